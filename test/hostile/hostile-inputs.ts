// Generators of hostile inputs shared by the hostile-client tests: tokens, frames, bodies, bad UTF-8, deep JSON.
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { SignJWT } from "jose";
import { isCoded } from "../helpers/hostile-node.js";

/** Tokens an attacker (or a buggy client) sends, made for one node's secret. */
export interface TokenSet {
  valid: string;
  /** Well-formed, signed with another secret. */
  badSignature: string;
  expired: string;
  /** alg "none", no signature. */
  unsigned: string;
  /** Signed with the right secret but without sub. */
  noSubject: string;
  /** Signed with the right secret but without exp. */
  noExpiry: string;
}

export async function makeTokens(secret: string, subject = "fuzzer"): Promise<TokenSet> {
  const key = new TextEncoder().encode(secret);
  const now = Math.floor(Date.now() / 1000);
  const signed = (claims: Record<string, unknown>, signingKey: Uint8Array = key) => {
    const jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" });
    return jwt.sign(signingKey);
  };
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return {
    valid: await signed({ sub: subject, iat: now, exp: now + 3600 }),
    badSignature: await signed({ sub: subject, iat: now, exp: now + 3600 }, randomBytes(32)),
    expired: await signed({ sub: subject, iat: now - 7200, exp: now - 3600 }),
    unsigned: `${encode({ alg: "none", typ: "JWT" })}.${encode({ sub: subject, exp: now + 3600 })}.`,
    noSubject: await signed({ iat: now, exp: now + 3600 }),
    noExpiry: await signed({ sub: subject, iat: now }),
  };
}

/** Any of the tokens, or junk in a token's place. */
export function tokenArbitrary(tokens: TokenSet): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant(tokens.valid) },
    { weight: 3, arbitrary: fc.constantFrom(tokens.badSignature, tokens.expired, tokens.unsigned, tokens.noSubject, tokens.noExpiry) },
    { weight: 1, arbitrary: fc.constantFrom("", "a.b.c", "..", "x".repeat(20_000), `${tokens.valid}x`, tokens.valid.split(".").slice(0, 2).join(".")) },
    { weight: 1, arbitrary: fc.string({ maxLength: 64 }) },
  );
}

/** Bytes that are not UTF-8: lone continuation bytes, overlong forms, surrogates, truncated sequences. */
export const badUtf8Bytes = [
  Buffer.from([0xff]),
  Buffer.from([0xfe, 0xff]),
  Buffer.from([0x80]),
  Buffer.from([0xc3, 0x28]),
  Buffer.from([0xc0, 0xaf]),
  Buffer.from([0xe0, 0x80, 0xaf]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]),
  Buffer.from([0xe2, 0x82]),
  Buffer.from([0xf0, 0x9f, 0x98]),
];

export const badUtf8Arbitrary: fc.Arbitrary<Buffer> = fc
  .array(fc.constantFrom(...badUtf8Bytes), { minLength: 1, maxLength: 4 })
  .map((parts) => Buffer.concat(parts));

/** JSON nested `depth` levels deep, as text (arrays or objects). */
export function deepJson(depth: number, kind: "array" | "object"): string {
  return kind === "array" ? `${"[".repeat(depth)}${"]".repeat(depth)}` : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
}

export const deepJsonArbitrary: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 1, max: 200_000 }), fc.constantFrom<"array" | "object">("array", "object"))
  .map(([depth, kind]) => deepJson(depth, kind));

/** Numbers that break naive code: huge, tiny, negative, non-integer, beyond 2^53, as JSON text. */
export const hugeNumberText = fc.constantFrom(
  "1e400",
  "-1e400",
  "1e308",
  "1e-400",
  "99999999999999999999999999999",
  "9007199254740993",
  "-9007199254740993",
  "-1",
  "0",
  "-0",
  "0.5",
  "4294967296",
  "2147483648",
  "NaN",
  "Infinity",
);

/** A value of the wrong type for any field. */
export const wrongTypeValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, "", [], {}, [null], { nested: { deeper: [1, 2, 3] } }),
  fc.anything({ maxDepth: 3 }),
);

/** response_format values: the valid kinds, schemas of any shape, wrong types. */
export const responseFormatArbitrary: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom({ type: "text" }, { type: "json_object" }, { type: "json_schema", json_schema: { name: "x", schema: { type: "object", properties: { a: { type: "string" } } } } }),
  fc.record({ type: fc.constant("json_schema"), json_schema: fc.record({ name: fc.string({ maxLength: 70 }), schema: fc.oneof(fc.json({ maxDepth: 3 }).map((text) => JSON.parse(text) as unknown), wrongTypeValue) }, { requiredKeys: [] }) }),
  fc.record({ type: fc.oneof(fc.constantFrom("yaml", ""), wrongTypeValue) }),
  wrongTypeValue,
);

/** The `knowledge` field (frame params, HTTP body): true, false, named collections of any size and length, wrong types. */
export const knowledgeArbitrary: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(true, false, { collections: ["cases"] }, { collections: [] }, { collections: ["x".repeat(129)] }, { collections: "cases" }, {}),
  fc.record({ collections: fc.array(fc.oneof(fc.string({ maxLength: 130 }), wrongTypeValue), { maxLength: 34 }) }),
  fc.record({ collections: fc.array(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 }), extra: wrongTypeValue }),
  wrongTypeValue,
);

/** Tool names a node with the ward-tools plugin offers, one it does not, and names no tool may have. */
const toolNameArbitrary: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("free_beds", "page_doctor", "no_such_tool", "server.tool") },
  { weight: 1, arbitrary: fc.oneof(fc.constantFrom("", "two words", "x".repeat(65), "\u0000"), fc.string({ maxLength: 70 }), wrongTypeValue) },
);

/** `tool_choice` values (frame params, HTTP body): the keywords, named tools in both shapes, malformed shapes, wrong types. */
export const toolChoiceArbitrary: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("auto", "none", "required") },
  { weight: 3, arbitrary: toolNameArbitrary.map((name) => ({ type: "function", function: { name } })) },
  { weight: 2, arbitrary: toolNameArbitrary.map((name) => ({ name })) },
  {
    weight: 2,
    arbitrary: fc.record(
      { type: fc.oneof(fc.constantFrom("function", "tool"), wrongTypeValue), function: fc.oneof(fc.record({ name: toolNameArbitrary }, { requiredKeys: [] }), wrongTypeValue), name: toolNameArbitrary, extra: wrongTypeValue },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.oneof(fc.constantFrom("", "Required", "any", "function"), fc.string({ maxLength: 12 }), wrongTypeValue) },
);

/** `agent` values: the default agent, unknown names, empty and over-long names, wrong types. */
export const agentArbitrary: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom("default", "nope", "", "x".repeat(129)) },
  { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 20 }), wrongTypeValue) },
);

/** Parameters of a chat frame, mostly valid, sometimes wrong. */
export const frameParamsArbitrary: fc.Arbitrary<unknown> = fc.oneof(
  fc.record(
    {
      max_tokens: fc.integer({ min: 1, max: 64 }),
      temperature: fc.double({ min: 0, max: 2, noNaN: true }),
      top_p: fc.double({ min: 0.01, max: 1, noNaN: true }),
      seed: fc.integer(),
      stop: fc.oneof(fc.string({ maxLength: 4 }), fc.array(fc.string({ maxLength: 4 }), { maxLength: 9 })),
      response_format: responseFormatArbitrary,
      logprobs: fc.boolean(),
      top_logprobs: fc.integer({ min: -1, max: 21 }),
      knowledge: knowledgeArbitrary,
      tool_choice: toolChoiceArbitrary,
      agent: agentArbitrary,
    },
    { requiredKeys: [] },
  ),
  fc.dictionary(
    fc.constantFrom("max_tokens", "temperature", "top_p", "seed", "stop", "adapter", "response_format", "logprobs", "top_logprobs", "knowledge", "tool_choice", "agent", "bogus"),
    wrongTypeValue,
    { maxKeys: 3 },
  ),
);

/** A count for a `sessions` frame's limit or offset: in range, at and past the bounds, fractional, huge, or of a wrong type. */
export const sessionCountArbitrary: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 60 }) },
  { weight: 2, arbitrary: fc.constantFrom(-1, 0, 1, 199, 200, 201, 1.5, -0.5, 2 ** 53 - 1, 2 ** 53, 1e300, -1e300, Number.MAX_VALUE) },
  { weight: 1, arbitrary: wrongTypeValue },
);

/** A session name for a `history` frame: ordinary, unicode, at and past 256 characters, SQL and path junk, or a wrong type. */
export const sessionNameArbitrary: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 16 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }) },
  { weight: 2, arbitrary: fc.constantFrom("", "s".repeat(256), "s".repeat(257), "\u0000", "\ud800", "' OR 1=1 --", "%", "../../etc/passwd", "会话") },
  { weight: 1, arbitrary: wrongTypeValue },
);

/** A `sessions` or `history` frame (as an object), mostly well-formed, some with bad fields or extra keys. */
export function sessionFrameArbitrary(id: fc.Arbitrary<unknown>): fc.Arbitrary<Record<string, unknown>> {
  return fc.oneof(
    fc.record({ type: fc.constant("sessions"), id, limit: sessionCountArbitrary, offset: sessionCountArbitrary, owner: fc.constant("someone-else") }, { requiredKeys: ["type", "id"] }),
    fc.record({ type: fc.constant("history"), id, session: sessionNameArbitrary, owner: fc.constant("someone-else") }, { requiredKeys: ["type", "id"] }),
  );
}

/**
 * One client frame of the Clawbot protocol as text: well-formed chats, pings, cancels, auth and tool.approve frames,
 * the same with wrong types or unknown keys, arbitrary JSON, bad JSON, deep JSON.
 */
export function frameTextArbitrary(idPrefix: string, tokens: TokenSet): fc.Arbitrary<string> {
  const id = fc.oneof(
    { weight: 5, arbitrary: fc.integer({ min: 0, max: 1_000_000 }).map((n) => `${idPrefix}-${n}`) },
    { weight: 1, arbitrary: fc.oneof(fc.constantFrom("", "x".repeat(129)), wrongTypeValue) },
  );
  const message = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "grapheme", maxLength: 20 }), fc.constantFrom("", "\u0000", "\ud800", "x".repeat(5000)));
  const chat = fc.record(
    {
      type: fc.constant("chat"),
      id,
      message,
      params: frameParamsArbitrary,
      session: fc.oneof(fc.string({ minLength: 1, maxLength: 16 }), fc.constant("s".repeat(300)), wrongTypeValue),
    },
    { requiredKeys: ["type", "id", "message"] },
  );
  const structured = fc.oneof(
    { weight: 6, arbitrary: chat },
    { weight: 1, arbitrary: fc.record({ type: fc.constant("ping") }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant("cancel"), id }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant("auth"), token: tokenArbitrary(tokens) }) },
    // Approvals of calls that are not waiting (unknown ids and call ids), malformed ones, and on transports without approvals.
    {
      weight: 1,
      arbitrary: fc.record(
        {
          type: fc.constant("tool.approve"),
          id,
          call_id: fc.oneof(fc.string({ minLength: 1, maxLength: 24 }).map((text) => `call_${text}`), fc.constantFrom("", "x".repeat(129)), wrongTypeValue),
          approved: fc.oneof({ weight: 4, arbitrary: fc.boolean() }, { weight: 1, arbitrary: wrongTypeValue }),
        },
        { requiredKeys: ["type"] },
      ),
    },
    { weight: 1, arbitrary: fc.record({ type: fc.oneof(fc.string({ maxLength: 8 }), wrongTypeValue), id }) },
    { weight: 1, arbitrary: sessionFrameArbitrary(id) },
  );
  // Mutations: one key replaced by a wrong value, or an unknown key added.
  const mutated = fc
    .tuple(structured, fc.constantFrom("type", "id", "message", "params", "session", "token", "call_id", "approved", "extra"), wrongTypeValue)
    .map(([frame, key, value]) => ({ ...(frame as Record<string, unknown>), [key]: value }));
  return fc.oneof(
    { weight: 6, arbitrary: structured.map((frame) => JSON.stringify(frame)) },
    { weight: 3, arbitrary: mutated.map((frame) => JSON.stringify(frame)) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
    { weight: 1, arbitrary: fc.constantFrom("", "{", "}", "null", "[]", '{"type":"chat"', '{"type":"chat","id":"x","message":"\\ud800"}', '{"__proto__":{"type":"chat"}}') },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 50_000 }).map((depth) => deepJson(depth, depth % 2 === 0 ? "array" : "object")) },
  );
}

/** How a node-side tool call can end (a tool-result frame's `outcome`). */
export const toolOutcomes = new Set(["ok", "error", "invalid_arguments", "forbidden", "denied", "timeout"]);

/**
 * A frame a server sent: JSON, a known type, an error carries a code from the table, and a tool frame carries its call
 * (or call id) and a known outcome. Returns why not, or undefined.
 */
export function serverFrameProblem(frame: unknown): string | undefined {
  if (typeof frame !== "object" || frame === null) return `not an object: ${JSON.stringify(frame)}`;
  const { type, code } = frame as { type?: unknown; code?: unknown };
  if (type === "error") return isCoded(code) ? undefined : `error frame without a code from errors.ts: ${JSON.stringify(frame)}`;
  if (type === "tool-call" || type === "tool-approval") {
    const call = (frame as { call?: { id?: unknown; name?: unknown; arguments?: unknown } }).call;
    const whole = typeof call?.id === "string" && typeof call.name === "string" && typeof call.arguments === "string";
    return whole ? undefined : `${type} frame without a whole call: ${JSON.stringify(frame).slice(0, 200)}`;
  }
  if (type === "tool-result") {
    const { call_id: callId, outcome, content } = frame as { call_id?: unknown; outcome?: unknown; content?: unknown };
    const whole = typeof callId === "string" && toolOutcomes.has(String(outcome)) && typeof content === "string";
    return whole ? undefined : `tool-result frame without a call id, a known outcome and content: ${JSON.stringify(frame).slice(0, 200)}`;
  }
  if (type === "sessions" || type === "history") return sessionReplyProblem(frame as Record<string, unknown>);
  if (["text-delta", "finish", "pong", "authenticated"].includes(String(type))) return undefined;
  return `unknown frame type: ${JSON.stringify(frame).slice(0, 200)}`;
}

/** Why a `sessions` or `history` reply is malformed (fields of the documented types), or undefined. */
export function sessionReplyProblem(frame: Record<string, unknown>): string | undefined {
  const whole = (ok: boolean) => (ok ? undefined : `malformed ${String(frame.type)} reply: ${JSON.stringify(frame).slice(0, 300)}`);
  const count = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 0;
  if (typeof frame.id !== "string") return whole(false);
  if (frame.type === "sessions") {
    const sessions = frame.sessions;
    const entries = Array.isArray(sessions) && sessions.every((entry: Record<string, unknown>) => typeof entry.session === "string" && typeof entry.title === "string" && typeof entry.last_activity === "string" && count(entry.turns));
    return whole(entries && count(frame.total) && (frame.next_offset === null || count(frame.next_offset)));
  }
  const messages = frame.messages;
  return whole(typeof frame.session === "string" && Array.isArray(messages) && messages.every((entry: Record<string, unknown>) => (entry.role === "user" || entry.role === "assistant") && typeof entry.content === "string"));
}
