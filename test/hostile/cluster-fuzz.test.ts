// Fuzzes a real node's cluster subjects through a real nats-server: garbage on the work queue, the cancel and reply
// subjects, the heartbeat and lease buckets and the replicated streams. Anyone with access to NATS can publish there;
// the node must ignore what it cannot read and keep answering.
import fc from "fast-check";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterNames } from "../../src/cluster/cluster-names.js";
import { killAll, removeTempDirs } from "../helpers/cli-process.js";
import { expectWebsocketServed, startHostileNode, type HostileNode } from "../helpers/hostile-node.js";
import { NatsServer } from "../helpers/nats-server.js";
import { badUtf8Arbitrary, deepJsonArbitrary, hugeNumberText, wrongTypeValue } from "./hostile-inputs.js";

const cluster = { name: "hostile", node_id: "h1", heartbeat_s: 1, ack_wait_s: 2 };
const names = clusterNames(cluster);

let server: NatsServer;
let node: HostileNode;
let client: NatsConnection;

beforeAll(async () => {
  server = await NatsServer.start();
  node = await startHostileNode({ config: { cluster: { nats: server.url, ...cluster } } });
  // The node serves through its own work queue before anything hostile arrives.
  await expectWebsocketServed(node, "before the fuzzing");
  client = await connect({ servers: server.url });
}, 120_000);

afterAll(async () => {
  await client?.close();
  await node?.close();
  await server?.close();
  killAll();
  removeTempDirs();
});

/**
 * Payloads: bytes that are not UTF-8, deep or odd JSON, values of the wrong type, and near-valid messages; under NATS's
 * 1 MB payload limit (the server refuses larger ones before anything reaches a node).
 */
const payload: fc.Arbitrary<Uint8Array> = fc.oneof(
  badUtf8Arbitrary,
  fc.uint8Array({ maxLength: 2048 }),
  deepJsonArbitrary.map((text) => new TextEncoder().encode(text)),
  hugeNumberText.map((text) => new TextEncoder().encode(text)),
  wrongTypeValue.map((value) => new TextEncoder().encode(JSON.stringify(value ?? null))),
  fc
    .record({
      v: fc.oneof(fc.constant(1), wrongTypeValue),
      id: fc.oneof(fc.uuid(), wrongTypeValue),
      attempt: fc.oneof(fc.integer({ min: -5, max: 5 }), wrongTypeValue),
      reply: fc.oneof(fc.constant(`${names.replyPrefix}.fuzz`), fc.string()),
      deadline: fc.oneof(fc.integer(), fc.constant(Date.now() + 60_000), wrongTypeValue),
      origin: fc.oneof(fc.constant("h1"), fc.string()),
      request: fc.oneof(wrongTypeValue, fc.record({ messages: fc.oneof(wrongTypeValue, fc.array(fc.record({ role: fc.string(), content: wrongTypeValue }))), params: wrongTypeValue })),
      type: fc.constantFrom("start", "part", "working", "requeue", "error", "finish", "restart"),
    }, { requiredKeys: [] })
    .map((value) => new TextEncoder().encode(JSON.stringify(value))),
).filter((bytes) => bytes.length < 512 * 1024);

/** Where the garbage goes: core subjects the node listens on, and the streams and buckets it reads. */
const target = fc.oneof(
  fc.constant({ kind: "jetstream", subject: names.workAny }),
  fc.constant({ kind: "jetstream", subject: names.workNode("h1") }),
  fc.uuid().map((id) => ({ kind: "core", subject: names.cancel(id) })),
  fc.string({ minLength: 1, maxLength: 12 }).filter((text) => /^[A-Za-z0-9]+$/.test(text)).map((token) => ({ kind: "core", subject: `${names.replyPrefix}.${token}` })),
  fc.constantFrom("h1", "h2", "x").map((origin) => ({ kind: "jetstream", subject: `${names.sessionsSubject}.${origin}.fuzz` })),
  fc.constantFrom("h2", "x").map((origin) => ({ kind: "jetstream", subject: `${names.knowledgeSubject}.${origin}.fuzz` })),
  fc.constantFrom("h2", "ghost", "h1").map((key) => ({ kind: "kv-nodes", subject: key })),
);

describe("a node's cluster subjects under hostile messages", () => {
  it("ignores garbage on every cluster subject, stream and bucket, and keeps answering", async () => {
    const jetstream = client.jetstream();
    const nodes = await jetstream.views.kv(names.nodesBucket);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(target, payload), { minLength: 5, maxLength: 25 }), async (messages) => {
        for (const [{ kind, subject }, data] of messages) {
          if (kind === "core") client.publish(subject, data);
          // The buckets and streams may refuse a value (too large): then nothing reached the node.
          else if (kind === "kv-nodes") await nodes.put(subject, data).catch(() => undefined);
          else await jetstream.publish(subject, data).catch(() => undefined);
        }
        await client.flush();
        expect(await node.stillAliveAfter(50)).toBe(true);
      }),
      { numRuns: 20 },
    );
    // After the garbage: the node is alive and a real client is still served through the work queue.
    await expectWebsocketServed(node, "after the fuzzing");
  }, 180_000);
});
