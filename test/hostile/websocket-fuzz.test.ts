// Fuzzes the WebSocket gateway of a real node: generated frames (text, binary, fragmented, oversized, bad UTF-8) and raw framing.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { errorTable } from "../../src/core/errors.js";
import { parseClientFrame } from "../../src/gateways/frames.js";
import { expectHttpServed, expectWebsocketServed, type HostileNode } from "../helpers/hostile-node.js";
import { closeCodeOf, encodeFrame, openRawWebsocket } from "../helpers/raw-websocket.js";
import { badUtf8Arbitrary, frameTextArbitrary, serverFrameProblem, tokenArbitrary, type TokenSet } from "./hostile-inputs.js";
import { fuzzKnowledgeBase } from "./fuzz-knowledge-base.js";
import { useHostileNode } from "./use-hostile-node.js";

const maxPayload = 16 * 1024;
/** The gateway closes the connection (1009) above this; between maxPayload and this it answers payload_too_large. */
const hardLimit = 4 * maxPayload;

/**
 * Close codes a fuzzed connection may end with: the table's, plus the two RFC 6455 codes for frames that break
 * the protocol itself (1002 protocol error, 1007 text that is not UTF-8), which the WebSocket layer must use.
 */
const allowedCloseCodes = new Set<number>([...Object.values(errorTable).map((entry) => entry.closeCode), 1002, 1007]);

let node: HostileNode;
let tokens: TokenSet;

useHostileNode(
  // With a knowledge base that matches nearly any text, so every chat goes through the retrieve stage. Without the
  // knowledge_search tool, whose catalog the echo engine would echo: tools are fuzzed in websocket-tools-fuzz.test.ts.
  async () => ({
    websocket: { max_payload: maxPayload },
    agent: { max_tokens: 16 },
    config: { knowledge: { enabled: true, database: await fuzzKnowledgeBase() }, tools: { knowledge_search: { enabled: false } } },
  }),
  (started, startedTokens) => ([node, tokens] = [started, startedTokens]),
);

type Outgoing =
  | { kind: "text" | "binary"; text: string }
  | { kind: "fragmented"; text: string; pieces: number }
  | { kind: "bad-utf8"; bytes: Buffer }
  | { kind: "oversized"; size: number };

function outgoingArbitrary(): fc.Arbitrary<Outgoing> {
  const text = frameTextArbitrary("w", tokens);
  return fc.oneof(
    { weight: 8, arbitrary: text.map((value) => ({ kind: "text" as const, text: value })) },
    { weight: 2, arbitrary: text.map((value) => ({ kind: "binary" as const, text: value })) },
    { weight: 2, arbitrary: fc.tuple(text, fc.integer({ min: 2, max: 5 })).map(([value, pieces]) => ({ kind: "fragmented" as const, text: value, pieces })) },
    { weight: 1, arbitrary: badUtf8Arbitrary.map((bytes) => ({ kind: "bad-utf8" as const, bytes: Buffer.concat([Buffer.from('{"type":"chat","id":"u","message":"'), bytes, Buffer.from('"}')]) })) },
    { weight: 1, arbitrary: fc.integer({ min: maxPayload + 1, max: hardLimit + 4096 }).map((size) => ({ kind: "oversized" as const, size })) },
  );
}

function sendOutgoing(socket: WebSocket, item: Outgoing): void {
  switch (item.kind) {
    case "text":
      return socket.send(item.text);
    case "binary":
      return socket.send(Buffer.from(item.text), { binary: true });
    case "fragmented": {
      const bytes = Buffer.from(item.text);
      const size = Math.max(1, Math.ceil(bytes.length / item.pieces));
      for (let offset = 0; offset < Math.max(bytes.length, 1); offset += size) {
        socket.send(bytes.subarray(offset, offset + size), { binary: false, fin: offset + size >= bytes.length });
      }
      return;
    }
    case "bad-utf8":
      return socket.send(item.bytes, { binary: false });
    case "oversized":
      return socket.send(oversizedFrame(item.size));
  }
}

/** A chat frame of exactly `size` bytes. */
function oversizedFrame(size: number): string {
  const wrapper = ['{"type":"chat","id":"big","message":"', '"}'];
  return wrapper.join("x".repeat(Math.max(0, size - wrapper.join("").length)));
}

interface Session {
  frames: Record<string, unknown>[];
  problems: string[];
  closeCode?: number;
}

/** Sends the frames and a closing ping; resolves when the pong (and every chat's end) has come, or the connection closed. */
async function runSession(authorization: string | undefined, items: Outgoing[]): Promise<Session> {
  const socket = new WebSocket(node.wsUrl, authorization ? { headers: { authorization } } : {});
  const session: Session = { frames: [], problems: [] };
  const expectedChats = new Set(items.flatMap((item) => (item.kind === "text" || item.kind === "binary" || item.kind === "fragmented" ? chatIdOf(item.text) : [])));
  const expectedPongs = 1 + items.filter((item) => (item.kind === "text" || item.kind === "binary" || item.kind === "fragmented") && isPing(item.text)).length;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      session.problems.push(`no pong and no close within 15 s; frames: ${JSON.stringify(session.frames).slice(0, 500)}`);
      resolve();
    }, 15_000);
    let finished = false;
    const done = () => {
      finished = true;
      clearTimeout(timer);
      resolve();
    };
    const settledChats = () => {
      const started = new Set([...expectedChats, ...session.frames.filter((frame) => frame.type === "text-delta").map((frame) => frame.id)]);
      const ended = new Set(session.frames.filter((frame) => frame.type === "finish" || frame.type === "error").map((frame) => frame.id));
      return [...started].every((id) => ended.has(id));
    };
    socket.on("unexpected-response", (_request, response) => {
      session.problems.push(`upgrade refused with HTTP ${response.statusCode}`);
      done();
    });
    socket.on("error", () => undefined);
    socket.on("open", () => {
      for (const item of items) sendOutgoing(socket, item);
      socket.send(JSON.stringify({ type: "ping" }));
    });
    socket.on("message", (data) => {
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(String(data)) as Record<string, unknown>;
      } catch {
        session.problems.push(`a frame that is not JSON: ${String(data).slice(0, 200)}`);
        return;
      }
      session.frames.push(frame);
      const problem = serverFrameProblem(frame);
      if (problem) session.problems.push(problem);
      if (session.frames.filter((received) => received.type === "pong").length >= expectedPongs && settledChats()) done();
    });
    socket.on("close", (code) => {
      if (finished) return;
      session.closeCode = code;
      done();
    });
  });
  socket.terminate();
  return session;
}

/** The id of a frame the parser accepts as a chat (its answer must end with finish or error), within the size limit. */
function chatIdOf(text: string): string[] {
  if (Buffer.byteLength(text) > maxPayload) return [];
  const parsed = parseClientFrame(text);
  return "frame" in parsed && parsed.frame.type === "chat" ? [parsed.frame.id] : [];
}

function isPing(text: string): boolean {
  const parsed = parseClientFrame(text);
  return "frame" in parsed && parsed.frame.type === "ping";
}

/** Frames the parser refuses (each must be answered with an error frame, unless the connection is closed). */
function invalidCount(items: Outgoing[]): number {
  return items.filter((item) => {
    if (item.kind === "oversized") return item.size <= hardLimit;
    if (item.kind === "bad-utf8") return false;
    return Buffer.byteLength(item.text) > maxPayload || "error" in parseClientFrame(item.text);
  }).length;
}

describe("hostile WebSocket clients", () => {
  it("answers every generated frame with a coded error, a valid answer or a coded close, and stays up", async () => {
    const authorization = fc.oneof(
      { weight: 6, arbitrary: fc.constant(`Bearer ${tokens.valid}`) },
      { weight: 1, arbitrary: fc.constant(undefined) },
    );
    await fc.assert(
      fc.asyncProperty(authorization, fc.array(outgoingArbitrary(), { minLength: 1, maxLength: 5 }), async (header, items) => {
        const session = await runSession(header, items);
        const context = `${header ? "token" : "no token"}; sent ${JSON.stringify(items).slice(0, 600)}; got ${JSON.stringify(session.frames).slice(0, 400)} close ${session.closeCode}`;
        expect(await node.stillAliveAfter(session.closeCode === 1006 || session.problems.length > 0 ? 300 : 0), `the node exited: ${context}\n${node.cli.describe().slice(-3000)}`).toBe(true);
        expect(session.problems, context).toEqual([]);
        if (session.closeCode !== undefined) {
          expect(allowedCloseCodes.has(session.closeCode), `close code ${session.closeCode} is not coded: ${context}`).toBe(true);
        } else if (header) {
          const errors = session.frames.filter((frame) => frame.type === "error").length;
          expect(errors, `fewer error frames than refused frames: ${context}`).toBeGreaterThanOrEqual(invalidCount(items));
        }
      }),
      { numRuns: 300, endOnFailure: true },
    );
    await expectWebsocketServed(node);
  });

  it("authenticates with an auth frame whatever token it carries: authenticated, or closed with 4401", async () => {
    await fc.assert(
      fc.asyncProperty(tokenArbitrary(tokens), async (token) => {
        const session = await runSession(undefined, [{ kind: "text", text: JSON.stringify({ type: "auth", token }) }, { kind: "text", text: JSON.stringify({ type: "chat", id: "after-auth", message: "hi" }) }]);
        expect(await node.stillAliveAfter(0), "the node exited").toBe(true);
        expect(session.problems).toEqual([]);
        if (token === tokens.valid) expect(session.frames.find((frame) => frame.id === "after-auth" && frame.type === "finish"), JSON.stringify(session.frames)).toBeDefined();
        else expect(session.closeCode, `token ${token.slice(0, 60)}: ${JSON.stringify(session.frames)}`).toBe(errorTable.unauthorized.closeCode);
      }),
      { numRuns: 100, endOnFailure: true },
    );
  });

  it("survives malformed framing on a raw socket and closes with a coded or protocol close code", async () => {
    const json = (text: string) => Buffer.from(text);
    const frame = fc.oneof(
      // Unmasked, reserved bits, unknown opcodes, oversized or fragmented control frames, stray continuations.
      fc.record({ opcode: fc.constantFrom(0x1, 0x2), payload: fc.constant(json('{"type":"ping"}')), masked: fc.constant(false) }),
      fc.record({ opcode: fc.constant(0x1), payload: fc.constant(json('{"type":"ping"}')), rsv: fc.integer({ min: 1, max: 7 }) }),
      fc.record({ opcode: fc.constantFrom(0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf), payload: fc.uint8Array({ maxLength: 20 }).map((bytes) => Buffer.from(bytes)) }),
      fc.record({ opcode: fc.constantFrom(0x8, 0x9, 0xa), payload: fc.integer({ min: 126, max: 300 }).map((size) => Buffer.alloc(size, 0x61)) }),
      fc.record({ opcode: fc.constantFrom(0x9, 0xa), payload: fc.constant(Buffer.from("x")), fin: fc.constant(false) }),
      fc.record({ opcode: fc.constant(0x0), payload: fc.constant(json("orphan continuation")) }),
      fc.record({ opcode: fc.constant(0x1), payload: fc.constant(json('{"type":')), fin: fc.constant(false) }),
      fc.record({ opcode: fc.constant(0x8), payload: fc.constantFrom(Buffer.from([0x03]), Buffer.from([0x03, 0xe7]), Buffer.from([0x03, 0xec]), Buffer.from([0x13, 0x88]), Buffer.from([0x03, 0xe8, 0xff, 0xfe])) }),
      fc.record({ opcode: fc.constant(0x1), payload: badUtf8Arbitrary }),
      fc.record({ opcode: fc.constantFrom(0x1, 0x2), payload: fc.constant(Buffer.alloc(8)), declaredLength: fc.constantFrom(2n ** 63n, 2n ** 64n - 1n, 2n ** 53n, BigInt(hardLimit + 1), 2n ** 32n) }),
      fc.record({ opcode: fc.constant(0x9), payload: fc.uint8Array({ maxLength: 125 }).map((bytes) => Buffer.from(bytes)) }),
    );
    const chunk = fc.oneof(
      { weight: 4, arbitrary: frame.map((spec) => encodeFrame(spec)) },
      { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => Buffer.from(bytes)) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(chunk, { minLength: 1, maxLength: 3 }), async (chunks) => {
        const raw = await openRawWebsocket(node.port, { authorization: `Bearer ${tokens.valid}` });
        raw.socket.write(Buffer.concat([...chunks, encodeFrame({ opcode: 0x1, payload: Buffer.from('{"type":"ping"}') })]));
        // The closing ping may be swallowed by a frame that declared more bytes: then the server is still waiting, which is fine.
        const pongOrClose = await raw.waitFor((received) => received.opcode === 0x8 || (received.opcode === 0x1 && received.payload.toString().includes('"pong"')), 1_000);
        raw.socket.destroy();
        const context = `sent ${chunks.map((part) => part.subarray(0, 40).toString("hex")).join(" | ")}; got ${pongOrClose} ${JSON.stringify(raw.frames.map((received) => [received.opcode, received.payload.subarray(0, 80).toString()]))}`;
        expect(await node.stillAliveAfter(50), `the node exited: ${context}\n${node.cli.describe().slice(-3000)}`).toBe(true);
        for (const received of raw.frames) {
          if (received.opcode === 0x1) expect(serverFrameProblem(JSON.parse(received.payload.toString())), context).toBeUndefined();
          const code = closeCodeOf(received);
          const clientClosed = chunks.some((part) => ((part[0] as number) & 0x0f) === 0x8);
          if (code !== undefined && !clientClosed) expect(allowedCloseCodes.has(code), `close code ${code}: ${context}`).toBe(true);
        }
      }),
      { numRuns: 150, endOnFailure: true },
    );
    await expectWebsocketServed(node);
    await expectHttpServed(node);
  });
});
