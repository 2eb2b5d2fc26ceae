// Two real node processes share one MQTT gateway (the primary's, one client id on a real Mosquitto): the primary is
// killed mid-answer and the new primary answers the request it had acknowledged, from the replicated request ledger.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killAll, removeTempDirs } from "../helpers/cli-process.js";
import { startClusterNodes, until, type ClusterNodeProcess } from "../helpers/cluster-nodes.js";
import { findMosquitto, MosquittoBroker } from "../helpers/mosquitto.js";
import { MqttTestClient } from "../helpers/mqtt-test-client.js";
import { NatsServer } from "../helpers/nats-server.js";

const skip = !findMosquitto();
let nats: NatsServer;
let broker: MosquittoBroker;
let nodes: ClusterNodeProcess[] = [];
let tester: MqttTestClient | undefined;

beforeAll(async () => {
  if (skip) return;
  nats = await NatsServer.start();
  broker = await MosquittoBroker.start();
  const mqtt = { type: "mqtt", broker: broker.url, client_id: "clawbot-ward", reconnect_max_delay: 0.5, session_expiry: 3600 };
  // Short beats: the lease lapses about 3 s after the primary dies.
  nodes = await startClusterNodes([{ id: "m1", gateways: [mqtt] }, { id: "m2", gateways: [mqtt] }], { nats: nats.url, name: "mqtt", heartbeatS: 1, ackWaitS: 2 });
}, 180_000);

afterAll(async () => {
  await tester?.close();
  await killAll();
  await broker?.close();
  await nats?.close();
  removeTempDirs();
});

/** Whether a node's current process logged that its singleton MQTT gateway resumed its interrupted requests. */
const resumedLine = (node: ClusterNodeProcess) => node.logs().find((line) => line.pid === node.pid && /^mqtt resumed \d+ interrupted request/.test(String(line.msg)));

/** Pings over MQTT until the primary's gateway answers (its subscription is in place). */
async function pong(client: MqttTestClient): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    const pongs = client.received.filter(({ frame }) => frame.type === "pong").length;
    await client.publish({ type: "ping" }, {}, 0);
    try {
      await client.next(({ frame }) => frame.type === "pong" && client.received.filter((other) => other.frame.type === "pong").length > pongs, 500);
      return;
    } catch (error) {
      if (attempt > 40) throw new Error("no pong from the cluster's MQTT gateway", { cause: error });
    }
  }
}

describe.skipIf(skip)("the MQTT gateway moving to a new primary", () => {
  it("answers a request the killed primary acknowledged, and drops a duplicate of one it answered", async () => {
    const primary = await until(() => nodes.find((node) => resumedLine(node)), "a primary running the MQTT gateway", 30_000);
    const standby = nodes.find((node) => node !== primary)!;
    tester = await MqttTestClient.connect(broker.url, "ward-tester", { extra: { clean: false, properties: { sessionExpiryInterval: 600 } } });
    const client = tester;
    await pong(client);
    expect((await client.chat("before-kill", "The little dog", { params: { max_tokens: 8 } })).end).toMatchObject({ type: "finish" });

    const firstDelta = client.next(({ frame }) => frame.id === "long-1" && frame.type === "text-delta", 60_000);
    await client.publish({ type: "chat", id: "long-1", message: "Once upon a time", params: { max_tokens: 400 } });
    await firstDelta;
    const killedAt = Date.now();
    primary.signal("SIGKILL");
    await primary.cli.exited;
    expect(client.framesOf("long-1").some((frame) => frame.type === "finish"), "long-1 finished before the kill").toBe(false);
    const receivedBeforeKill = client.received.length;

    const { end } = await client.result("long-1", 60_000);
    console.log(`primary ${primary.id} killed mid-answer: the new primary's finish after ${Date.now() - killedAt} ms`);
    expect(end).toMatchObject({ type: "finish", id: "long-1" });
    expect(String(resumedLine(standby)?.msg)).toMatch(/^mqtt resumed 1 interrupted request\b/);
    // Generated again from the start by the new primary: the deltas after the kill add up to the whole text.
    const rerun = client.received.slice(receivedBeforeKill).filter(({ frame }) => frame.id === "long-1" && frame.type === "text-delta");
    expect(rerun.map(({ frame }) => String(frame.text)).join("")).toBe(end.text);

    // A redelivered duplicate of what the old primary answered is dropped by the new one (requests are taken in order:
    // once a later one is answered, the duplicate has been seen).
    await client.publish({ type: "chat", id: "before-kill", message: "The little dog", params: { max_tokens: 8 } });
    expect((await client.chat("after-takeover", "The little dog", { params: { max_tokens: 4 } })).end.type).toBe("finish");
    expect(client.framesOf("before-kill").filter((frame) => frame.type === "finish")).toHaveLength(1);
    expect(client.framesOf("long-1").filter((frame) => frame.type === "finish")).toHaveLength(1);
  }, 120_000);
});
