// The shared IM channel over a real node and the real test model, through a test-only adapter (no platform): split
// delivery, duplicates (also after a restart), retried deliveries, mapped subjects in the audit ledger, mention filter, refusal. ~25 s.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImInbound } from "../src/gateways/im/im-channel.js";
import type { ImTestHandle } from "./fixtures/gateways/im-test-adapter.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

const adapterFile = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures/gateways/im-test-adapter.ts");
const maxBytes = 48;
let node: TestNode;
let handle: ImTestHandle;

function message(id: string, overrides: Partial<ImInbound> = {}): ImInbound {
  return { messageId: id, conversationId: `chat-${id}`, chatType: "direct", senderId: "u-alice", senderName: "Alice", text: "Count from one to twenty in words.", mentioned: false, ...overrides };
}

/** The final pieces delivered to `target`, once all of them are there. */
async function answerOf(target: string): Promise<string[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const finals = handle.deliveries.filter((delivery) => delivery.target === target && delivery.kind === "final");
    if (finals.length > 0 && finals.length === finals[0]!.piece.count && !handle.channel.busy) return finals.map((delivery) => delivery.text);
    if (Date.now() > deadline) throw new Error(`no complete answer for ${target}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const startNode = (dataDir?: string) =>
  startTestNode({
    ...(dataDir ? { dataDir } : {}),
    agent: { max_tokens: 48 },
    extraGateways: [
      {
        type: "custom",
        protocol: "imtest",
        path: adapterFile,
        max_bytes: maxBytes,
        unknown_users: "refuse",
        users: { "u-alice": { subject: "alice@example.com", roles: ["staff"] }, "u-bob": {} },
        default_roles: ["user"],
      },
    ],
  });

beforeAll(async () => {
  node = await startNode();
  handle = (globalThis as { imTest?: ImTestHandle }).imTest as ImTestHandle;
});

afterAll(async () => {
  await node?.close();
});

describe("ImChannel on a real node", () => {
  it("delivers the real model's answer in order, in pieces of at most maxMessageBytes", async () => {
    expect(handle.channel.receive(message("m1"), "t1")).toBe("accepted");
    const pieces = await answerOf("t1");
    expect(pieces.length).toBeGreaterThan(1);
    for (const piece of pieces) expect(Buffer.byteLength(piece)).toBeLessThanOrEqual(maxBytes);
    expect(pieces.join("").trim().length).toBeGreaterThan(0);
    const indexes = handle.deliveries.filter((delivery) => delivery.target === "t1").map((delivery) => delivery.piece.index);
    expect(indexes).toEqual(pieces.map((_, index) => index));
  });

  it("ignores a message id it already took", async () => {
    const before = handle.deliveries.length;
    expect(handle.channel.receive(message("m1", { text: "Something else" }), "t1-again")).toBe("duplicate");
    expect(handle.channel.busy).toBe(false);
    expect(handle.deliveries.length).toBe(before);
  });

  it("retries a delivery that fails twice and delivers each piece once", async () => {
    handle.failNext = 2;
    const attemptsBefore = handle.attempts;
    expect(handle.channel.receive(message("m2", { text: "Say hello." }), "t2")).toBe("accepted");
    const pieces = await answerOf("t2");
    expect(handle.attempts - attemptsBefore).toBe(pieces.length + 2);
    expect(handle.tokenExpiredCalls).toBe(1);
    expect(handle.channel.stats()).toMatchObject({ retried: 2, failed: 0 });
  });

  it("runs as the mapped subject and roles: the audit ledger records them", async () => {
    const records = node.daemon.audit?.source.after(0, 1000) ?? [];
    const request = records.find((record) => record.kind === "request" && record.body.client_request_id === "m1");
    expect(request?.body).toMatchObject({ gateway: "imtest", subject: "alice@example.com", roles: ["staff"], session: "imtest:chat-m1" });
  });

  it("gives a listed user without subject `<platform>:<id>` and the default roles", async () => {
    expect(handle.channel.receive(message("m3", { senderId: "u-bob", text: "Hi" }), "t3")).toBe("accepted");
    await answerOf("t3");
    const records = node.daemon.audit?.source.after(0, 1000) ?? [];
    const request = records.find((record) => record.kind === "request" && record.body.client_request_id === "m3");
    expect(request?.body).toMatchObject({ subject: "imtest:u-bob", roles: ["user"] });
  });

  it("ignores group messages without a mention and refuses unlisted users with a polite text", async () => {
    expect(handle.channel.receive(message("m4", { chatType: "group" }), "t4")).toBe("ignored");
    expect(handle.channel.receive(message("m5", { senderId: "u-mallory" }), "t5")).toBe("refused");
    const [refusal] = await answerOf("t5");
    expect(refusal).toMatch(/registered users/);
    expect(handle.channel.receive(message("m5", { senderId: "u-mallory" }), "t5")).toBe("duplicate");
  });

  it("still knows the message ids it took after a restart (the request ledger is in the node's database)", async () => {
    const dataDir = node.dataDir;
    await node.close();
    node = await startNode(dataDir);
    handle = (globalThis as { imTest?: ImTestHandle }).imTest as ImTestHandle;
    expect(handle.channel.receive(message("m1"), "t1-after-restart")).toBe("duplicate");
    expect(handle.channel.receive(message("m6", { text: "Hi" }), "t6")).toBe("accepted");
    expect((await answerOf("t6")).length).toBeGreaterThan(0);
  });
});
