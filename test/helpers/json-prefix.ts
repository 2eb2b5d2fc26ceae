// Tells whether a text is JSON, the beginning of some JSON text (an answer cut by max_tokens), or neither.

/** Thrown at the end of the text: what came before was valid so far. */
const endOfText = Symbol("end of text");

/** "complete" when the text is one JSON value, "prefix" when more text could make it one, "invalid" otherwise. */
export function jsonPrefixState(text: string): "complete" | "prefix" | "invalid" {
  let position = 0;
  const peek = (): string => {
    if (position >= text.length) throw endOfText;
    return text[position] as string;
  };
  const expect = (literal: string): void => {
    for (const character of literal) {
      if (peek() !== character) throw new SyntaxError(`expected ${literal} at ${position}`);
      position += 1;
    }
  };
  const whitespace = (): void => {
    while (position < text.length && " \t\n\r".includes(text[position] as string)) position += 1;
  };
  const string = (): void => {
    expect('"');
    for (;;) {
      const character = peek();
      position += 1;
      if (character === '"') return;
      if (character === "\\") {
        const escaped = peek();
        position += 1;
        if (escaped === "u") for (let index = 0; index < 4; index++) if (!/[0-9a-fA-F]/.test(peek())) throw new SyntaxError("bad \\u escape");
        else position += 1;
        else if (!'"\\/bfnrt'.includes(escaped)) throw new SyntaxError("bad escape");
      } else if (character < " ") throw new SyntaxError("control character in a string");
    }
  };
  const number = (): void => {
    const rest = text.slice(position);
    // A number the text ends in may still grow into a valid one ("-", "1.", "2e").
    if ((/^-?(0|[1-9]\d*)?(\.\d*)?([eE][-+]?\d*)?/.exec(rest)?.[0].length ?? 0) === rest.length) throw endOfText;
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/.exec(rest);
    if (!match) throw new SyntaxError(`bad number at ${position}`);
    position += match[0].length;
  };
  const value = (): void => {
    whitespace();
    const character = peek();
    if (character === "{") return container("}", true);
    if (character === "[") return container("]", false);
    if (character === '"') return string();
    if (character === "t") return expect("true");
    if (character === "f") return expect("false");
    if (character === "n") return expect("null");
    return number();
  };
  const container = (close: string, object: boolean): void => {
    position += 1;
    whitespace();
    if (peek() === close) {
      position += 1;
      return;
    }
    for (;;) {
      if (object) {
        whitespace();
        string();
        whitespace();
        expect(":");
      }
      value();
      whitespace();
      const next = peek();
      position += 1;
      if (next === close) return;
      if (next !== ",") throw new SyntaxError(`expected , or ${close} at ${position - 1}`);
    }
  };
  try {
    value();
    whitespace();
    return position === text.length ? "complete" : "invalid";
  } catch (error) {
    if (error === endOfText) return "prefix";
    return "invalid";
  }
}
