// Fuzzes the encrypted SM link of a real node: random and malformed hellos, then sealed garbage, replays and random frames inside a good link.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ChatClient } from "../../src/cli/chat-client.js";
import { errorTable } from "../../src/core/errors.js";
import { generateSm2KeyPair } from "../../src/security/gm/gm-crypto.js";
import { SmLinkClient, type SmRecordLayer } from "../../src/security/gm/sm-link.js";
import type { HostileNode } from "../helpers/hostile-node.js";
import { frameTextArbitrary, serverFrameProblem, type TokenSet } from "./hostile-inputs.js";
import { useHostileNode } from "./use-hostile-node.js";

const allowedCloseCodes = new Set<number>([...Object.values(errorTable).map((entry) => entry.closeCode), 1002, 1007]);

let node: HostileNode;
let tokens: TokenSet;

useHostileNode(
  () => ({ websocket: { encryption: { type: "sm" } }, agent: { max_tokens: 16 } }),
  (started, startedTokens) => ([node, tokens] = [started, startedTokens]),
);

interface Outcome {
  messages: { data: Buffer; binary: boolean }[];
  closeCode?: number;
}

/** Opens a socket, runs `act`, and waits for the close: up to 5 s when `expectClose`, else until 400 ms pass without a message. */
async function session(act: (socket: WebSocket, received: Outcome) => Promise<void> | void, expectClose = true): Promise<Outcome> {
  const socket = new WebSocket(node.wsUrl);
  const outcome: Outcome = { messages: [] };
  let lastMessageAt = Date.now();
  let over = false;
  socket.on("error", () => undefined);
  socket.on("message", (data, binary) => {
    lastMessageAt = Date.now();
    outcome.messages.push({ data: data as Buffer, binary });
  });
  const closed = new Promise<void>((resolve) =>
    socket.on("close", (code) => {
      if (!over) outcome.closeCode = code;
      resolve();
    }),
  );
  const quiet = async () => {
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && (expectClose || Date.now() - lastMessageAt < 400)) await new Promise((resolve) => setTimeout(resolve, 50));
  };
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("unexpected-response", () => reject(new Error("upgrade refused")));
  });
  await act(socket, outcome);
  lastMessageAt = Date.now();
  await Promise.race([closed, quiet()]);
  over = true;
  socket.terminate();
  return outcome;
}

async function handshake(socket: WebSocket, outcome: Outcome): Promise<SmRecordLayer> {
  const link = new SmLinkClient();
  socket.send(JSON.stringify(link.hello));
  while (outcome.messages.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  return link.finish(String((outcome.messages.shift() as { data: Buffer }).data)).records;
}

const hex = (length: number) => fc.uint8Array({ minLength: length, maxLength: length }).map((bytes) => Buffer.from(bytes).toString("hex"));
const helloArbitrary = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 300 }).map((bytes) => ({ binary: true, data: Buffer.from(bytes) })),
  fc.string({ maxLength: 200 }).map((text) => ({ binary: false, data: Buffer.from(text) })),
  fc
    .record(
      {
        type: fc.constantFrom("sm-hello", "chat", "hello", 1),
        version: fc.constantFrom(1, 2, 0, "1", null),
        key: fc.oneof(hex(65), fc.constant(generateSm2KeyPair().publicKey), fc.constant(`04${"00".repeat(64)}`), fc.string()),
        random: fc.oneof(hex(32), hex(31), fc.string()),
      },
      { requiredKeys: [] },
    )
    .map((value) => ({ binary: false, data: Buffer.from(JSON.stringify(value)) })),
);

describe("hostile clients of the encrypted SM link", () => {
  it("answers random and malformed hellos with the server hello or a coded refusal, and stays up", async () => {
    await fc.assert(
      fc.asyncProperty(helloArbitrary, async (hello) => {
        const outcome = await session((socket) => socket.send(hello.data, { binary: hello.binary }));
        const context = `sent ${hello.data.subarray(0, 200).toString("hex")}; got ${JSON.stringify(outcome.messages.map((message) => String(message.data).slice(0, 200)))} close ${outcome.closeCode}`;
        expect(await node.stillAliveAfter(0), `the node exited: ${context}\n${node.cli.describe().slice(-3000)}`).toBe(true);
        for (const message of outcome.messages) {
          const frame = JSON.parse(String(message.data)) as Record<string, unknown>;
          if (frame.type !== "sm-hello") expect(frame, context).toMatchObject({ type: "error", code: "secure_link_failed" });
        }
        if (outcome.closeCode !== undefined) expect(allowedCloseCodes.has(outcome.closeCode), context).toBe(true);
      }),
      { numRuns: 150, endOnFailure: true },
    );
  });

  it("inside a good link, refuses sealed garbage and replays with 4460 and answers random frames with coded sealed frames", async () => {
    const item = fc.oneof(
      { weight: 3, arbitrary: frameTextArbitrary("s", tokens).map((text) => ({ kind: "frame" as const, text })) },
      { weight: 1, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 100 }).map((bytes) => ({ kind: "garbage" as const, bytes: Buffer.from(bytes) })) },
      { weight: 1, arbitrary: fc.constant({ kind: "replay" as const }) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 400 }).map((bit) => ({ kind: "flip" as const, bit })) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(item, { minLength: 1, maxLength: 4 }), async (items) => {
        let records: SmRecordLayer | undefined;
        const tampered = items.some((next) => next.kind !== "frame");
        // A random auth frame sent before the tampering may carry a bad token: the node then closes 4401 first.
        const firstTamper = items.findIndex((next) => next.kind !== "frame");
        const reauthenticates = items.slice(0, firstTamper).some((next) => next.kind === "frame" && /"type"\s*:\s*"auth"/.test(next.text));
        const outcome = await session(async (socket, received) => {
          records = await handshake(socket, received);
          let last: Buffer | undefined;
          for (const next of [{ kind: "frame" as const, text: JSON.stringify({ type: "auth", token: tokens.valid }) }, ...items]) {
            if (next.kind === "frame") socket.send((last = records.seal(next.text)));
            else {
              if (next.kind === "garbage") socket.send(next.bytes);
              else if (next.kind === "replay") socket.send(last ?? Buffer.alloc(0));
              else {
                const record = records.seal(JSON.stringify({ type: "ping" }));
                record[Math.floor(next.bit / 8) % record.length] = (record[Math.floor(next.bit / 8) % record.length] as number) ^ (1 << next.bit % 8);
                socket.send(record);
              }
              break;
            }
          }
        }, tampered);
        const context = `sent ${JSON.stringify(items).slice(0, 500)}; close ${outcome.closeCode}`;
        expect(await node.stillAliveAfter(0), `the node exited: ${context}\n${node.cli.describe().slice(-3000)}`).toBe(true);
        const frames = outcome.messages.map((message) => JSON.parse((records as SmRecordLayer).open(message.data)) as Record<string, unknown>);
        for (const frame of frames) expect(serverFrameProblem(frame), `${context} ${JSON.stringify(frame)}`).toBeUndefined();
        // Refused credentials close the link (4401, the reason in the close frame) before the tampered record is read.
        const closedForCredentials = reauthenticates && outcome.closeCode === errorTable.unauthorized.closeCode;
        if (tampered && !closedForCredentials) {
          expect(outcome.closeCode, context).toBe(errorTable.secure_link_failed.closeCode);
          expect(frames.at(-1), context).toMatchObject({ type: "error", code: "secure_link_failed" });
        } else if (outcome.closeCode !== undefined) expect(allowedCloseCodes.has(outcome.closeCode), context).toBe(true);
      }),
      { numRuns: 80, endOnFailure: true },
    );
    const client = new ChatClient({ sm: {} });
    await client.connect(node.wsUrl, await node.token());
    expect((await client.ask("still served")).type).toBe("finish");
    await client.close();
  });
});
