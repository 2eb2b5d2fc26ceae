// What the redactor looks for: one detector per kind, each with its pattern and how much text it may still be waiting for.
import { isValidChineseId } from "./chinese-id.js";
import { isLuhnValid } from "./luhn.js";

export interface Detector {
  /** The kind counted for metrics and audit: id_card, phone, email, bank_card, name, labelled, or a custom name. */
  readonly kind: string;
  /** A global pattern; every match is a candidate unless `accept` refuses it. */
  readonly pattern: RegExp;
  accept?(match: string): boolean;
  /** Where masking starts inside a match (a labelled field keeps its label). */
  maskFrom?(match: RegExpExecArray): number;
  /**
   * How many characters at the end of a stream buffer (never before `from`) could still belong to a match
   * that more text would change. The stream delivers only what lies before them.
   */
  pending(text: string, from: number): number;
}

export function idCardDetector(): Detector {
  return {
    kind: "id_card",
    pattern: /(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])/g,
    accept: isValidChineseId,
    // 18 characters and the one after them.
    pending: (text, from) => trailingRun(text, from, /[0-9Xx]/, 19),
  };
}

/** Mainland mobile numbers, optionally with +86 / 86 and with spaces or hyphens as 3-4-4. */
export function phoneDetector(): Detector {
  return {
    kind: "phone",
    pattern: /(?<![0-9+])(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])/g,
    pending: (text, from) => trailingRun(text, from, /[0-9+ -]/, 18),
  };
}

/** 13 to 19 digits passing the Luhn check, written together or in groups of four. */
export function bankCardDetector(): Detector {
  return {
    kind: "bank_card",
    pattern: /(?<![0-9])(?:[0-9]{13,19}(?![0-9])|[0-9]{4}(?:[ -][0-9]{4}){2,3}(?:[ -][0-9]{1,3})?(?![0-9]|[ -][0-9]))/g,
    accept: (match) => {
      const digits = match.replace(/[ -]/g, "");
      return digits.length >= 13 && digits.length <= 19 && isLuhnValid(digits);
    },
    // 19 digits with 4 separators, and two characters of look-ahead.
    pending: (text, from) => trailingRun(text, from, /[0-9 -]/, 25),
  };
}

export function emailDetector(): Detector {
  return {
    kind: "email",
    pattern: /[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,4}[A-Za-z]{2,24}(?![A-Za-z0-9-])/g,
    // 64 + 1 + 4 × 64 + 24 characters, and the one after them.
    pending: (text, from) => trailingRun(text, from, /[A-Za-z0-9._%+@-]/, 346),
  };
}

/** Names from a configured list, longest first; a name that starts or ends with a letter or digit needs a word boundary there. */
export function namesDetector(names: readonly string[]): Detector {
  const sorted = [...new Set(names)].sort((first, second) => second.length - first.length);
  const alternatives = sorted.map((name) => `${/^[A-Za-z0-9_]/.test(name) ? "(?<![A-Za-z0-9_])" : ""}${escapeRegularExpression(name)}${/[A-Za-z0-9_]$/.test(name) ? "(?![A-Za-z0-9_])" : ""}`);
  return {
    kind: "name",
    pattern: new RegExp(alternatives.join("|"), "g"),
    pending: (text, from) => longestPartial(text, from, sorted),
  };
}

/** `患者姓名：张三`-style fields: a label, a colon (or =), and the value up to whitespace or punctuation, which is masked. */
export function labelledDetector(labels: readonly string[], maxValueLength: number): Detector {
  const sorted = [...new Set(labels)].sort((first, second) => second.length - first.length);
  const label = `(?:${sorted.map(escapeRegularExpression).join("|")})`;
  const value = "[^\\s,，。;；、:：()（）\\[\\]【】\"'“”]";
  const separator = "[ \\t]{0,4}[:：=][ \\t]{0,4}";
  const pattern = new RegExp(`(${label}${separator})${value}{1,${maxValueLength}}`, "g");
  // A label at the end, maybe with its separator and part of its value: more text may complete it.
  const unfinished = new RegExp(`${label}[ \\t]{0,4}(?:[:：=][ \\t]{0,4}${value}{0,${maxValueLength}})?$`);
  const span = (sorted[0]?.length ?? 0) + 9 + maxValueLength + 1;
  return {
    kind: "labelled",
    pattern,
    maskFrom: (match) => match[1]?.length ?? 0,
    pending: (text, from) => {
      const tailStart = Math.max(from, text.length - span);
      const found = unfinished.exec(text.slice(tailStart));
      const fromLabel = found ? text.length - tailStart - found.index : 0;
      return Math.max(fromLabel, longestPartial(text, from, sorted));
    },
  };
}

/** A configured regular expression; streaming holds back `maxLength` characters since its matches cannot be predicted. */
export function customDetector(kind: string, source: string, flags: string, maxLength: number): Detector {
  return {
    kind,
    pattern: new RegExp(source, `${flags}g`),
    pending: (text, from) => Math.min(text.length - from, maxLength + 1),
  };
}

/** Length of the run of characters matching `member` at the end of text (after `from`), at most `cap`. */
function trailingRun(text: string, from: number, member: RegExp, cap: number): number {
  let length = 0;
  while (length < cap && text.length - length > from && member.test(text[text.length - 1 - length] as string)) length += 1;
  return length;
}

/** Length of the longest end of text (after `from`) that some word starts with, the whole word included. */
function longestPartial(text: string, from: number, words: readonly string[]): number {
  const longest = Math.min(text.length - from, words[0]?.length ?? 0);
  for (let length = longest; length > 0; length -= 1) {
    const end = text.slice(text.length - length);
    if (words.some((word) => word.startsWith(end))) return length;
  }
  return 0;
}

function escapeRegularExpression(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}
