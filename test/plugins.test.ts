// Plugins end to end over every chat protocol: the seed's medical plugin, no leaks while streaming, refusals, failing plugins.
import path from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RedactPlugin } from "../src/plugins/builtin/redact.js";
import { chatTransports, mqttAvailable, type ChatOutcome } from "./helpers/chat-transports.js";
import { MosquittoBroker } from "./helpers/mosquitto.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const disclaimer = "\n\n本回复仅供参考,不构成医疗建议";
/** The seed's plugin, configured as a user would: a TypeScript file relative to the config. */
const medicalPlugin = { path: "./examples/plugins/medical-audit.ts" };
const fixture = (name: string, options: Record<string, unknown> = {}) => ({ path: `./test/fixtures/plugins/${name}.ts`, options });
const misbehaving = (hook: string, behaviour: string, trigger: string) => fixture("misbehaving-plugin", { hook, behaviour, trigger });

/** Deltas must add up to the answer, and none may contain what plugins were to remove. */
function expectDelivered(outcome: ChatOutcome, forbidden: RegExp): string {
  expect(outcome.error).toBeUndefined();
  expect(outcome.deltas.join("")).toBe(outcome.text);
  for (const delta of outcome.deltas) expect(delta).not.toMatch(forbidden);
  return outcome.text as string;
}

// One broker for the whole file: every node also gets an MQTT gateway, so every test runs over MQTT too.
let broker: MosquittoBroker | undefined;
beforeAll(async () => {
  if (mqttAvailable) broker = await MosquittoBroker.start();
});
afterAll(async () => broker?.close());

describe("plugins with the echo engine (the prompt comes back as the answer)", () => {
  const nodes: Record<string, TestNode> = {};
  const start = async (name: string, plugins: unknown[]) => {
    nodes[name] = await startTestNode({ agent: { engine: "echo" }, plugins, pluginTimeout: 0.3, baseDir: repositoryRoot, mqttBroker: broker?.url });
  };

  beforeAll(async () => {
    await start("medical", [medicalPlugin]);
    await start("rewrite", [fixture("word-rewrite-plugin", { word: "secret", replacement: "public" })]);
    await start("redactOutput", [{ builtin: "redact", options: { names: ["张三"], apply_to: ["output"] } }, { builtin: "disclaimer", options: { text: "仅供参考" } }]);
    await start("gatekeeper", [fixture("gatekeeper-plugin", { forbidden: "weapons" })]);
    await start("misbehaving", [
      misbehaving("preProcess", "throw", "throw-pre"),
      misbehaving("preProcess", "hang", "hang-pre"),
      misbehaving("postProcess", "throw", "throw-post"),
      misbehaving("postProcess", "hang", "hang-post"),
    ]);
    await start("misbehavingStream", [misbehaving("transformStream.push", "throw", "throw-push"), misbehaving("transformStream.push", "hang", "hang-push")]);
  });
  afterAll(async () => {
    await Promise.all(Object.values(nodes).map((node) => node.close()));
  });

  describe.each(chatTransports)("over $name", (transport) => {
    // Session tests exist only for transports that keep sessions (the OpenAI HTTP API is stateless).
    const sessionTest = transport.sessions ? it : () => undefined;
    it("the medical plugin masks the input before the model sees it and appends the disclaimer", async () => {
      const outcome = await transport.chat(nodes.medical!, { message: "患者姓名：张三，咳嗽三天" });
      expect(expectDelivered(outcome, /患者姓名/)).toBe(`[脱敏]：张三，咳嗽三天${disclaimer}`);
    });

    it("nothing a postProcess rewrites reaches the client in a text-delta", async () => {
      const outcome = await transport.chat(nodes.rewrite!, { message: "the secret plan is secret, top secret" });
      expect(expectDelivered(outcome, /secret/)).toBe("the public plan is public, top public");
    });

    it("the redactor streams incrementally and never lets part of a masked value out", async () => {
      const outcome = await transport.chat(nodes.redactOutput!, { message: "张三 called 138 1234 5678 and 张三丰 today" });
      expect(expectDelivered(outcome, /张三|138|1234|5678/)).toBe("[脱敏] called [脱敏] and [脱敏]丰 today\n\n仅供参考");
      expect(outcome.deltas.length).toBeGreaterThan(3);
    });

    it("a definePlugin plugin refuses with forbidden, and passes metadata from preProcess to the stream", async () => {
      const refused = await transport.chat(nodes.gatekeeper!, { message: "tell me about weapons" });
      expect(refused.error).toEqual({ code: "forbidden", message: 'The topic "weapons" is not allowed here.' });
      expect(refused.deltas).toEqual([]);
      const answered = await transport.chat(nodes.gatekeeper!, { message: "tell me about tea" });
      expect(expectDelivered(answered, /^$/)).toBe(`tell me about tea [checked:${transport.name}]`);
    });

    it("a throwing or hanging hook fails that request with plugin_error naming the plugin; the node stays up", async () => {
      const cases = [
        ["throw-pre", "plugin misbehaving: preProcess threw: deliberate failure in preProcess"],
        ["hang-pre", "plugin misbehaving: preProcess timed out after 300 ms"],
        ["throw-post", "plugin misbehaving: postProcess threw: deliberate failure in postProcess"],
        ["hang-post", "plugin misbehaving: postProcess timed out after 300 ms"],
      ] as const;
      for (const [trigger, message] of cases) {
        const outcome = await transport.chat(nodes.misbehaving!, { message: `please ${trigger} now` });
        expect(outcome.error, trigger).toEqual({ code: "plugin_error", message });
        expect(outcome.deltas, trigger).toEqual([]);
      }
      expect((await transport.chat(nodes.misbehaving!, { message: "all good" })).text).toBe("all good");
    });

    it("a failing stream transform fails the request with plugin_error; the node stays up", async () => {
      const thrown = await transport.chat(nodes.misbehavingStream!, { message: "throw-push" });
      expect(thrown.error).toEqual({ code: "plugin_error", message: "plugin misbehaving: transformStream.push threw: deliberate failure in transformStream.push" });
      const hung = await transport.chat(nodes.misbehavingStream!, { message: "hang-push" });
      expect(hung.error).toEqual({ code: "plugin_error", message: "plugin misbehaving: transformStream.push timed out after 300 ms" });
      await expect.poll(() => nodes.misbehavingStream!.daemon.engine.load().active).toBe(0);
      expect((await transport.chat(nodes.misbehavingStream!, { message: "all good" })).text).toBe("all good");
    });

    sessionTest("the session stores the masked input and the delivered answer", async () => {
      const first = await transport.chat(nodes.medical!, { message: "患者姓名：李四", session: "visit" });
      expect(nodes.medical!.daemon.sessions.history("alice", "visit")).toEqual([
        { role: "user", content: "[脱敏]：李四" },
        { role: "assistant", content: first.text },
      ]);
      const second = await transport.chat(nodes.medical!, { message: "患者姓名 again", session: "visit" });
      expect(expectDelivered(second, /患者姓名/)).toContain("[脱敏]：李四");
      nodes.medical!.daemon.sessions.clear("alice", "visit");
    });
  });

  it("the redactor masks every message of an OpenAI-style conversation that reaches the model", async () => {
    const node = await startTestNode({ agent: { engine: "echo" }, plugins: [{ builtin: "redact", options: { names: ["张三"] } }] });
    try {
      const openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token(), maxRetries: 0 });
      const completion = await openai.chat.completions.create({
        model: "echo",
        messages: [
          { role: "system", content: "病人张三的档案" },
          { role: "user", content: "我的电话是13812345678" },
          { role: "assistant", content: "邮箱 zs@example.com 已记录" },
          { role: "user", content: "患者姓名：李四" },
        ],
      });
      expect(completion.choices[0]?.message.content).toBe("病人[脱敏]的档案\n我的电话是[脱敏]邮箱 [脱敏] 已记录\n患者姓名：[脱敏]");
      const redact = node.daemon.plugins.plugins[0]?.instance as RedactPlugin;
      expect(redact.counts).toEqual({ input: { name: 1, phone: 1, email: 1, labelled: 1 }, output: {} });
    } finally {
      await node.close();
    }
  });

  it("a plugin file that fails to load stops the start with a message naming the file", async () => {
    const failure = await startTestNode({ agent: { engine: "echo" }, plugins: [fixture("unknown-hook-plugin")], baseDir: repositoryRoot }).catch((error: Error) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(/^plugins\[0\] \(\.\/test\/fixtures\/plugins\/unknown-hook-plugin\.ts → .*\): is invalid: unknown hook "onToken"/);
  });
});

describe("plugins with the real model", () => {
  const prompt = "Once upon a time";
  const nodes: Record<string, TestNode> = {};

  beforeAll(async () => {
    const mqttBroker = broker?.url;
    nodes.plain = await startTestNode({ agent: { parallel: 2 }, mqttBroker });
    nodes.medical = await startTestNode({ agent: { parallel: 2 }, plugins: [medicalPlugin], baseDir: repositoryRoot, mqttBroker });
    // The model streams "girl" in pieces ("g", "ir", "l"); the rewrite must not let any of it out.
    nodes.rewrite = await startTestNode({
      agent: { parallel: 2 },
      plugins: [fixture("word-rewrite-plugin", { word: "girl", replacement: "kid" })],
      baseDir: repositoryRoot,
      mqttBroker,
    });
    nodes.redact = await startTestNode({ agent: { parallel: 2 }, plugins: [{ builtin: "redact", options: { names: ["Lily"], apply_to: ["output"] } }], mqttBroker });
  });
  afterAll(async () => {
    await Promise.all(Object.values(nodes).map((node) => node.close()));
  });

  describe.each(chatTransports)("over $name", (transport) => {
    // Session tests exist only for transports that keep sessions (the OpenAI HTTP API is stateless).
    const sessionTest = transport.sessions ? it : () => undefined;
    let plain: string;

    beforeAll(async () => {
      plain = expectDelivered(await transport.chat(nodes.plain!, { message: prompt, maxTokens: 48 }), /^\b$/);
      expect(plain).toMatch(/girl.*Lily/);
    });

    it("the medical plugin appends the disclaimer to the model's answer", async () => {
      const outcome = await transport.chat(nodes.medical!, { message: prompt, maxTokens: 48 });
      expect(expectDelivered(outcome, /^\b$/)).toBe(`${plain}${disclaimer}`);
    });

    it("a postProcess rewrite of a word the model streams in pieces never leaks", async () => {
      const outcome = await transport.chat(nodes.rewrite!, { message: prompt, maxTokens: 48 });
      expect(expectDelivered(outcome, /girl/)).toBe(plain.replaceAll("girl", "kid"));
    });

    it("the redactor masks a name the model streams in pieces, while streaming", async () => {
      const outcome = await transport.chat(nodes.redact!, { message: prompt, maxTokens: 48 });
      expect(expectDelivered(outcome, /Lily|Lil/)).toBe(plain.replaceAll("Lily", "[脱敏]"));
      expect(outcome.deltas.length).toBeGreaterThan(20);
    });

    sessionTest("the stored session turn is the masked input", async () => {
      await transport.chat(nodes.medical!, { message: "患者姓名：王五", maxTokens: 8, session: "real" });
      expect(nodes.medical!.daemon.sessions.history("alice", "real")[0]).toEqual({ role: "user", content: "[脱敏]：王五" });
    });
  });
});
