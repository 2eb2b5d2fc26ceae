// The MQTT gateway's metrics against a real Mosquitto: broker state, messages in/out, duplicates, reconnects after the broker restarts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findMosquitto, MosquittoBroker } from "./helpers/mosquitto.js";
import { MqttTestClient } from "./helpers/mqtt-test-client.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

// Without mosquitto the tests are skipped on a developer machine, but fail loudly in CI.
const skip = !findMosquitto() && !process.env.CI;

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(skip)("MQTT metrics against Mosquitto", () => {
  let broker: MosquittoBroker;
  let node: TestNode;
  let client: MqttTestClient;

  /** One series' value from a scrape of the node's listener (undefined when absent). */
  const scraped = async (series: string): Promise<number | undefined> => {
    const text = await (await fetch(`http://127.0.0.1:${node.daemon.metrics.port}/metrics`)).text();
    const line = text.split("\n").find((each) => each.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  beforeAll(async () => {
    broker = await MosquittoBroker.start();
    node = await startTestNode({ agent: { engine: "echo" }, mqttBroker: broker.url });
    client = await MqttTestClient.connect(broker.url, "alice", { prefix: node.mqtt?.prefix });
  });

  afterAll(async () => {
    await client?.close();
    await node?.close();
    await broker?.close();
  });

  it("counts messages in and out and duplicates dropped, and says the broker is connected", async () => {
    const token = await node.token("alice");
    const { end } = await client.chat("m-1", "hello metrics", { token });
    expect(end.type).toBe("finish");
    expect(await scraped('clawbot_mqtt_connected{gateway="mqtt"}')).toBe(1);
    expect(await scraped('clawbot_gateway_up{gateway="mqtt"}')).toBe(1);
    expect(await scraped('clawbot_mqtt_messages_received_total{gateway="mqtt"}')).toBeGreaterThanOrEqual(1);
    // Deltas and the finish: each reply is a published message.
    expect(await scraped('clawbot_mqtt_messages_sent_total{gateway="mqtt"}')).toBeGreaterThanOrEqual(2);
    const requests = await scraped('clawbot_requests_total{gateway="mqtt",model="echo",outcome="stop"}');
    expect(requests).toBe(1);
    // The same request id again: a duplicate, dropped.
    await client.publish({ type: "chat", id: "m-1", message: "hello metrics", token });
    await until(async () => ((await scraped('clawbot_mqtt_duplicates_dropped_total{gateway="mqtt"}')) ?? 0) >= 1, "the duplicate to be counted");
    expect(await scraped('clawbot_requests_total{gateway="mqtt",model="echo",outcome="stop"}')).toBe(1);
  });

  it("shows the broker going away (connected 0) and the reconnects until it is back", async () => {
    const reconnectsBefore = (await scraped('clawbot_mqtt_reconnects_total{gateway="mqtt"}')) ?? 0;
    await broker.stop();
    await until(async () => (await scraped('clawbot_mqtt_connected{gateway="mqtt"}')) === 0, "the gateway to report the broker gone");
    expect(await scraped('clawbot_gateway_up{gateway="mqtt"}')).toBe(0);
    await broker.resume();
    await until(async () => (await scraped('clawbot_mqtt_connected{gateway="mqtt"}')) === 1, "the gateway to reconnect");
    expect(await scraped('clawbot_mqtt_reconnects_total{gateway="mqtt"}')).toBeGreaterThan(reconnectsBefore);
  });
});
