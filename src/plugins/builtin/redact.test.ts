// The redactor: validators, each kind of sensitive data (valid and invalid), counts, and streaming split at every position.
import { describe, expect, it } from "vitest";
import { chineseIdCheckCharacter, isValidChineseId } from "./chinese-id.js";
import { isLuhnValid } from "./luhn.js";
import { RedactPlugin } from "./redact.js";
import { createPluginContext } from "../plugin-context.js";

const principal = { subject: "alice", roles: [], scopes: [], claims: {} };

/** A valid resident ID from its first 17 digits. */
const residentId = (first17: string) => first17 + chineseIdCheckCharacter(first17);
/** A Luhn-valid card number from all digits but the last. */
const cardNumber = (prefix: string) => {
  for (let digit = 0; digit < 10; digit += 1) if (isLuhnValid(prefix + digit)) return prefix + digit;
  throw new Error("unreachable");
};
/** The same number with one digit changed, so its check fails. */
const corrupt = (number: string, at = 5) => number.slice(0, at) + String((Number(number[at]) + 1) % 10) + number.slice(at + 1);

const validId = residentId("44030419900101123");
const validIdWithX = "11010519491231002X";
const validCard = cardNumber("622202100112233");
const validCard19 = cardNumber("622848001234567890");

describe("validators", () => {
  it("checks GB 11643 check characters, X included", () => {
    expect(isValidChineseId(validIdWithX)).toBe(true);
    expect(isValidChineseId(validIdWithX.toLowerCase())).toBe(true);
    expect(isValidChineseId(validId)).toBe(true);
    expect(isValidChineseId(corrupt(validId))).toBe(false);
    expect(isValidChineseId("11010519491231002")).toBe(false);
    expect(isValidChineseId("01010519491231002X")).toBe(false);
  });

  it("checks Luhn digits", () => {
    expect(isLuhnValid("4111111111111111")).toBe(true);
    expect(isLuhnValid("4111111111111112")).toBe(false);
    expect(isLuhnValid(validCard19)).toBe(true);
    expect(isLuhnValid("4111 1111")).toBe(false);
  });
});

describe("redact", () => {
  const plugin = new RedactPlugin({ names: ["张三", "张三丰", "Alice"], patterns: [{ name: "mrn", regex: "MRN-[0-9]{6}", max_length: 10 }] });
  const redact = (text: string) => plugin.redactor.redact(text);

  it("masks valid resident IDs and leaves numbers with a wrong check character", () => {
    expect(redact(`身份证 ${validId} 已登记`)).toBe("身份证 [脱敏] 已登记");
    expect(redact(`ID:${validIdWithX}.`)).toBe("ID:[脱敏].");
    expect(redact(`ID:${validIdWithX.toLowerCase()}`)).toBe("ID:[脱敏]");
    const wrong = corrupt(validId);
    expect(isLuhnValid(wrong)).toBe(false);
    expect(redact(`身份证 ${wrong} 已登记`)).toBe(`身份证 ${wrong} 已登记`);
    // Part of a longer run of digits (not a card number either) is not an ID.
    const longer = validId + (isLuhnValid(`${validId}7`) ? "8" : "7");
    expect(redact(longer)).toBe(longer);
  });

  it("masks Luhn-valid bank cards, together or in groups of four, and leaves invalid ones", () => {
    expect(redact(`卡号${validCard}，谢谢`)).toBe("卡号[脱敏]，谢谢");
    expect(redact(`card ${validCard19} ok`)).toBe("card [脱敏] ok");
    const grouped = validCard.replace(/(\d{4})(?=\d)/g, "$1 ");
    expect(redact(`card ${grouped} ok`)).toBe("card [脱敏] ok");
    expect(redact(`card ${validCard.replace(/(\d{4})(?=\d)/g, "$1-")}`)).toBe("card [脱敏]");
    const invalid = corrupt(validCard);
    expect(redact(`card ${invalid} ok`)).toBe(`card ${invalid} ok`);
    expect(redact("order 1234567890123 shipped")).toBe("order 1234567890123 shipped");
  });

  it("masks mainland mobile numbers in common spellings, not other digit runs", () => {
    for (const phone of ["13812345678", "+8613812345678", "+86 138 1234 5678", "138-1234-5678", "86 19912345678"]) {
      expect(redact(`电话 ${phone} 联系`)).toBe("电话 [脱敏] 联系");
    }
    expect(redact("电话12345678901")).toBe("电话12345678901");
    expect(redact("编号 238123456789")).toBe("编号 238123456789");
    expect(redact("138123456789")).toBe("138123456789");
  });

  it("masks e-mail addresses and keeps a sentence's full stop", () => {
    expect(redact("Mail zhang.san+clinic@mail.example.com.cn.")).toBe("Mail [脱敏].");
    expect(redact("not an address: foo@bar")).toBe("not an address: foo@bar");
  });

  it("masks configured names, the longest first, with word boundaries for Latin names", () => {
    expect(redact("张三丰和张三来了")).toBe("[脱敏]和[脱敏]来了");
    expect(redact("Alice met Alicia")).toBe("[脱敏] met Alicia");
  });

  it("masks the value of labelled fields and keeps the label", () => {
    expect(redact("患者姓名：王五，年龄 30")).toBe("患者姓名：[脱敏]，年龄 30");
    expect(redact("姓名: 赵六 住址=北京市朝阳区某路1号")).toBe("姓名: [脱敏] 住址=[脱敏]");
    expect(redact("患者姓名很重要")).toBe("患者姓名很重要");
  });

  it("masks custom patterns and counts every kind", () => {
    const counts: Record<string, number> = {};
    const text = `患者姓名：李四 MRN-123456 ${validId} 13812345678 a@b.cn ${validCard} 张三`;
    expect(plugin.redactor.redact(text, counts)).toBe("患者姓名：[脱敏] [脱敏] [脱敏] [脱敏] [脱敏] [脱敏] [脱敏]");
    expect(counts).toEqual({ labelled: 1, mrn: 1, id_card: 1, phone: 1, email: 1, bank_card: 1, name: 1 });
  });

  it("masks a match inside a labelled field as one, counted once", () => {
    const counts: Record<string, number> = {};
    expect(plugin.redactor.redact(`身份证号：${validId}`, counts)).toBe("身份证号：[脱敏]");
    expect(counts).toEqual({ labelled: 1 });
    // A labelled value that stops at "." would leave the rest of an address: overlapping matches are masked together.
    expect(redact("联系电话：13812345678@example.com")).toBe("联系电话：[脱敏]");
  });

  it("uses the configured replacement and only the chosen detectors", () => {
    const custom = new RedactPlugin({ replacement: "***", detect: ["email"], labels: [] });
    expect(custom.redactor.redact(`a@b.cn ${validId} 患者姓名：王五`)).toBe(`*** ${validId} 患者姓名：王五`);
  });

  it("refuses bad options with the option's name", () => {
    expect(() => new RedactPlugin({ replacment: "x" })).toThrow(/options: unknown key "replacment"/);
    expect(() => new RedactPlugin({ patterns: [{ regex: "([a-z" }] })).toThrow(/options\.patterns\[0\]\.regex/);
    expect(() => new RedactPlugin({ patterns: [{ regex: "a", flags: "g" }] })).toThrow(/options\.patterns\[0\]\.flags/);
  });

  it("masks the input and every other message, and reports counts per request and in total", () => {
    const fresh = new RedactPlugin({ names: ["张三"] });
    const context = createPluginContext({
      input: "患者姓名：张三，电话13812345678",
      messages: [
        { role: "system", content: "病人张三的档案" },
        { role: "assistant", content: `证件 ${validId}` },
      ],
      principal,
      requestId: "r1",
    });
    fresh.preProcess(context);
    expect(context.input).toBe("患者姓名：[脱敏]，电话[脱敏]");
    expect(context.messages.map((message) => message.content)).toEqual(["病人[脱敏]的档案", "证件 [脱敏]"]);
    expect(context.metadata.redact).toEqual({ input: { labelled: 1, phone: 1, name: 1, id_card: 1 }, output: {} });
    expect(fresh.postProcess("张三 said hi", context)).toBe("[脱敏] said hi");
    expect(fresh.counts).toEqual({ input: { labelled: 1, phone: 1, name: 1, id_card: 1 }, output: { name: 1 } });
  });
});

// Detectors hold back for each other (a custom pattern holds back its max_length all the time; e-mail holds digits
// too), which would hide a mistake in one detector's hold-back: each also runs alone.
const alone = (detect: string[], extra: Record<string, unknown> = {}) => new RedactPlugin({ detect, labels: detect.includes("labelled") ? undefined : [], ...extra });
describe.each([
  { setup: "id_card alone", plugin: alone(["id_card"]) },
  { setup: "bank_card alone", plugin: alone(["bank_card"]) },
  { setup: "phone alone", plugin: alone(["phone"]) },
  { setup: "email alone", plugin: alone(["email"]) },
  { setup: "labelled alone", plugin: alone(["labelled"]) },
  { setup: "names alone", plugin: alone([], { names: ["张三", "张三丰", "Alice"] }) },
  { setup: "built-in detectors and names", plugin: new RedactPlugin({ names: ["张三", "张三丰", "Alice"] }) },
  { setup: "with a custom pattern", plugin: new RedactPlugin({ names: ["张三", "张三丰", "Alice"], patterns: [{ name: "mrn", regex: "\\bMRN-[0-9]{4,6}\\b", max_length: 12 }] }) },
])("redact while streaming, $setup", ({ plugin }) => {
  const texts = [
    `患者姓名：张三丰，身份证号 ${validId}，电话 +86 138 1234 5678，邮箱 zs@example.com。`,
    `Alice's card ${validCard.replace(/(\d{4})(?=\d)/g, "$1 ")} and ${validCard19}; not ${corrupt(validCard)} or ${corrupt(validId)}.`,
    `ID ${validIdWithX}x 13812345678901 MRN-12345 MRN-1234567 张三张三丰张 Alicia Alice`,
    `住址：北京市朝阳区 姓名=张三 a.b@c.cn@d.com 138123456781381234567 ${validId}${validIdWithX}`,
    "短文本无敏感信息 plain text",
    "😀张三😀 13812345678😀",
  ];

  const streamed = (chunks: string[]) => {
    const counts: Record<string, number> = {};
    const stream = plugin.redactor.createStream(counts);
    const output = chunks.map((chunk) => stream.push(chunk)).join("") + stream.flush();
    return { output, counts };
  };

  it("gives the whole-text result for every split position", () => {
    for (const text of texts) {
      const counts: Record<string, number> = {};
      const whole = plugin.redactor.redact(text, counts);
      for (let at = 0; at <= text.length; at += 1) {
        expect(streamed([text.slice(0, at), text.slice(at)]), `split at ${at} of ${text}`).toEqual({ output: whole, counts });
      }
    }
  });

  it("gives the whole-text result for one character at a time and for random chunkings", () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (const text of texts) {
      const whole = plugin.redactor.redact(text);
      expect(streamed([...text.split("")]).output).toBe(whole);
      for (let round = 0; round < 50; round += 1) {
        const chunks: string[] = [];
        for (let at = 0; at < text.length; ) {
          const length = 1 + Math.floor(random() * 8);
          chunks.push(text.slice(at, at + length));
          at += length;
        }
        expect(streamed(chunks).output).toBe(whole);
      }
    }
  });

  it("gives the whole-text result for random texts made of fragments that look alike", () => {
    const fragments = [validId, validIdWithX, validCard, validCard19, corrupt(validId), "138", "1234", "5678", "+86", "86", " ", "-", "x", "X",
      "@", ".", "a", "mail", "example.com", "张", "三", "丰", "张三", "Alice", "患者", "姓名", "：", ":", "=", "，", "MRN-", "9", "😀", "\n"];
    let seed = 11;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 300; round += 1) {
      let text = "";
      const pieces = 3 + Math.floor(random() * 12);
      for (let piece = 0; piece < pieces; piece += 1) text += fragments[Math.floor(random() * fragments.length)];
      const counts: Record<string, number> = {};
      const whole = plugin.redactor.redact(text, counts);
      const at = Math.floor(random() * (text.length + 1));
      expect(streamed([text.slice(0, at), text.slice(at)]), JSON.stringify(text)).toEqual({ output: whole, counts });
      expect(streamed([...text.split("")]), JSON.stringify(text)).toEqual({ output: whole, counts });
    }
  });
});

describe("redact while streaming, delivery", () => {
  const plugin = new RedactPlugin({ names: ["张三"] });

  it("never delivers part of a sensitive value before it is masked", () => {
    const text = `电话 13812345678 身份证 ${validId} 完`;
    const stream = plugin.redactor.createStream();
    const delivered: string[] = [];
    for (const character of text) delivered.push(stream.push(character));
    delivered.push(stream.flush());
    const joined = delivered.join("");
    expect(joined).toBe("电话 [脱敏] 身份证 [脱敏] 完");
    for (const delta of delivered) expect(delta).not.toMatch(/[0-9]/);
  });

  it("holds back only text that could still be part of a match", () => {
    const stream = new RedactPlugin({ names: ["张三丰"] }).redactor.createStream();
    expect(stream.push("今天天气很好，")).toBe("今天天气很好，");
    expect(stream.push("张三")).toBe("");
    expect(stream.push("来了")).toBe("张三来了");
    // Digits with the space before them (a grouped number may continue), and a word (an e-mail may follow) wait.
    expect(stream.push("call 138")).toBe("call");
    expect(stream.push("1234 5678 now")).toBe(" [脱敏] ");
    expect(stream.push(" 好")).toBe("now 好");
    expect(stream.flush()).toBe("");
  });
});
