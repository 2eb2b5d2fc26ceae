// The MQTT gateway end to end against a real Mosquitto and the real test model: streaming, response topics, persistence, duplicates, auth, broker restarts, a killed node.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { configSchema } from "../src/config/schema.js";
import { createDaemon, type Daemon } from "../src/daemon/daemon.js";
import { MqttGateway } from "../src/gateways/mqtt/mqtt-gateway.js";
import { createLogger, silentLogger } from "../src/logging/logger.js";
import { issueToken } from "../src/security/jwt-issuer.js";
import { killAll, removeTempDirs, sandboxEnv, spawnCli, tempDir, type CliProcess } from "./helpers/cli-process.js";
import { clawbotAcl, findMosquitto, missingMosquittoMessage, MosquittoBroker } from "./helpers/mosquitto.js";
import { MqttTestClient } from "./helpers/mqtt-test-client.js";
import { testSecret } from "./helpers/test-node.js";
import { testModelPath } from "./helpers/test-model.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

// Without mosquitto the tests are skipped on a developer machine, but fail loudly in CI.
const skip = !findMosquitto() && !process.env.CI;
if (skip) console.warn(`Skipping the MQTT gateway tests: ${missingMosquittoMessage}`);

const logger = process.env.CLAWBOT_TEST_LOGS ? createLogger("debug", { pretty: false }) : silentLogger;

async function startNode(gateways: Record<string, unknown>[], agent: Record<string, unknown> = {}): Promise<Daemon> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-mqtt-"));
  const config = configSchema.parse({ agent: { temperature: 0, data_dir: dataDir, ...agent }, gateways, shutdown_grace: 2, metrics: { port: 0 } });
  const modelPath = config.agent.engine === "llama" ? await testModelPath() : undefined;
  return createDaemon({ config, baseDir: dataDir, modelPath, logger });
}

function mqttGateway(daemon: Daemon, index = 0): MqttGateway {
  const gateway = daemon.gateways.filter((candidate) => candidate instanceof MqttGateway)[index];
  if (!gateway) throw new Error("no MQTT gateway");
  return gateway as MqttGateway;
}

async function until(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Broker users of the suites below: the node's own, and the clients (each publishes on <prefix>/req/<its name>). */
const passwords = { clawbot: "node-password", tester: "tester-password", alice: "alice-password", bob: "bob-password", kiosk: "kiosk-password" };
const nodeLogin = { username: "clawbot", password: passwords.clawbot };
const login = (user: keyof typeof passwords) => ({ username: user, password: passwords[user] });

describe.skipIf(skip)("mqtt gateway against Mosquitto (with the documented ACL and password users)", () => {
  let broker: MosquittoBroker;
  let daemon: Daemon | undefined;
  let tester: MqttTestClient;
  const token = (subject = "alice") => issueToken({ secret: testSecret, subject, roles: ["user"], ttl: "1h" });
  const gateways = () => [
    { type: "mqtt", broker: broker.url, ...nodeLogin, client_id: "clawbot-test", reconnect_max_delay: 0.5, session_expiry: 3600 },
    // The seed's spelling, with auth and MQTT 3.1.1: the same adapter under its custom protocol name.
    {
      type: "custom",
      protocol: "enterprise_mqtt",
      broker: broker.url,
      qos: 1,
      protocol_version: 4,
      client_id: "clawbot-test-secure",
      topic_prefix: "secure",
      ...nodeLogin,
      reconnect_max_delay: 0.5,
      auth: { type: "jwt", secret: testSecret },
    },
    { type: "websocket", port: 0 },
  ];
  const startAndConnect = async () => {
    daemon = await startNode(gateways(), { context_size: 2048 });
    const started = daemon;
    await until(() => mqttGateway(started, 0).status().connected && mqttGateway(started, 1).status().connected);
  };

  beforeAll(async () => {
    broker = await MosquittoBroker.start({ users: passwords, acl: clawbotAcl("clawbot", ["clawbot", "secure"]) });
    await startAndConnect();
    // A persistent session, so replies published while the broker restarts are kept for it.
    tester = await MqttTestClient.connect(broker.url, "tester", { extra: { ...login("tester"), clean: false, properties: { sessionExpiryInterval: 600 } } });
  });
  afterAll(async () => {
    await tester?.close();
    await daemon?.close();
    await broker?.close();
  });

  it("streams an answer whose deltas add up to the finish text; stream false sends only finish", async () => {
    const { deltas, end } = await tester.chat("stream-1", "Once upon a time", { params: { max_tokens: 32 } });
    expect(end).toMatchObject({ type: "finish", id: "stream-1", finish_reason: "length", usage: { completion_tokens: 32 } });
    expect(deltas.length).toBeGreaterThan(5);
    expect(deltas.join("")).toBe(end.text);

    const quiet = await tester.chat("quiet-1", "Once upon a time", { params: { max_tokens: 32 }, stream: false });
    expect(quiet.deltas).toEqual([]);
    expect(quiet.end).toMatchObject({ type: "finish", text: end.text });
  });

  it("answers on an MQTT 5 response topic below the client's own, with the request's correlation data", async () => {
    await tester.subscribe("clawbot/res/tester/inbox");
    const correlationData = Buffer.from("corr-42");
    const reply = tester.next(({ topic, frame }) => topic === "clawbot/res/tester/inbox" && frame.type === "finish");
    await tester.publish({ type: "chat", id: "rt-1", message: "The little dog", params: { max_tokens: 8 } }, { responseTopic: "clawbot/res/tester/inbox", correlationData });
    const { packet, frame } = await reply;
    expect(frame).toMatchObject({ id: "rt-1", finish_reason: "length" });
    expect(Buffer.from(packet.properties?.correlationData ?? []).toString()).toBe("corr-42");
    expect(packet.properties?.contentType).toBe("application/json");
    expect(tester.received.filter(({ frame: other }) => other.id === "rt-1").every(({ topic }) => topic === "clawbot/res/tester/inbox")).toBe(true);
  });

  it("answers malformed payloads with error frames and keeps serving", async () => {
    await tester.publish("this is not json");
    expect((await tester.next(({ frame }) => frame.type === "error" && frame.id === null)).frame.code).toBe("bad_request");
    await tester.publish({ type: "chat", id: "bad-1" });
    expect((await tester.next(({ frame }) => frame.type === "error" && frame.id === "bad-1")).frame.code).toBe("bad_request");
    await tester.publish({ type: "chat", id: "bad-2", message: "hi", stream: "yes" });
    expect((await tester.next(({ frame }) => frame.type === "error" && frame.id === "bad-2")).frame.code).toBe("bad_request");
    await tester.publish({ type: "chat", id: "bad-3", message: "x".repeat(1024 * 1024 + 10) });
    expect((await tester.next(({ frame }) => frame.type === "error" && frame.code === "payload_too_large")).frame).toBeTruthy();
    await tester.publish({ type: "ping" });
    expect(await tester.next(({ frame }) => frame.type === "pong")).toBeTruthy();
    expect((await tester.chat("after-bad", "Once upon a time", { params: { max_tokens: 4 } })).end.type).toBe("finish");
  });

  it("answers a duplicate request (same owner, same id) once", async () => {
    const request = { type: "chat", id: "dup-1", message: "Lily and Tom went", params: { max_tokens: 48 } };
    const first = tester.result("dup-1");
    await tester.publish(request);
    await tester.publish(request);
    await first;
    await tester.publish(request);
    // Requests are taken in order: once this later one is answered, the duplicates have been seen.
    expect((await tester.chat("dup-after", "The little dog", { params: { max_tokens: 4 } })).end.type).toBe("finish");
    const frames = tester.framesOf("dup-1");
    expect(frames.filter((frame) => frame.type === "finish")).toHaveLength(1);
    expect(frames.filter((frame) => frame.type === "error")).toEqual([]);
  });

  it("checks the token field like WebSocket: a bad or missing token is refused and never runs", async () => {
    // The broker user is named like the token's subject: it publishes on secure/req/alice and reads secure/res/alice.
    const secure = await MqttTestClient.connect(broker.url, "secure-tester", { prefix: "secure", extra: login("alice") });
    try {
      const forged = await new SignJWT({ sub: "mallory" })
        .setProtectedHeader({ alg: "HS256" })
        .setExpirationTime("1h")
        .sign(new TextEncoder().encode("another-secret-of-sufficient-length!!"));
      const refused = await secure.chat("forged", "Once upon a time", { token: forged });
      expect(refused.end).toMatchObject({ type: "error", code: "unauthorized" });
      expect(refused.deltas).toEqual([]);
      expect((await secure.chat("no-token", "Once upon a time")).end).toMatchObject({ type: "error", code: "unauthorized" });
      const allowed = await secure.chat("signed", "Once upon a time", { token: await token(), params: { max_tokens: 4 } });
      expect(allowed.end).toMatchObject({ type: "finish", id: "signed" });
      // A refused request does not take its id: the same id with a good token runs.
      const retried = secure.next(({ frame }) => frame.id === "forged" && frame.type === "finish");
      await secure.publish({ type: "chat", id: "forged", message: "Once upon a time", token: await token(), params: { max_tokens: 4 } });
      await retried;
    } finally {
      await secure.close();
    }
  });

  it("answers a QoS 1 request published while Clawbot was stopped once it starts again", async () => {
    await daemon?.close();
    daemon = undefined;
    const pending = tester.result("while-down", 30_000);
    await tester.publish({ type: "chat", id: "while-down", message: "Once upon a time", params: { max_tokens: 8 } });
    await startAndConnect();
    expect((await pending).end).toMatchObject({ type: "finish", id: "while-down", finish_reason: "length" });
  });

  it("leaves requests that arrive during shutdown on the broker, and answers them after the restart", async () => {
    const running = tester.result("draining", 30_000);
    const firstDelta = tester.next(({ frame }) => frame.id === "draining" && frame.type === "text-delta");
    await tester.publish({ type: "chat", id: "draining", message: "Once upon a time", params: { max_tokens: 400 } });
    await firstDelta;
    const closing = (daemon as Daemon).close();
    daemon = undefined;
    await tester.publish({ type: "chat", id: "late", message: "The little dog", params: { max_tokens: 8 } });
    // The answer in flight still finishes during the drain; the late request is neither run nor refused.
    expect((await running).end).toMatchObject({ type: "finish", id: "draining" });
    await closing;
    expect(tester.framesOf("late")).toEqual([]);
    const late = tester.result("late", 30_000);
    await startAndConnect();
    expect((await late).end).toMatchObject({ type: "finish", id: "late", finish_reason: "length" });
  });

  it("survives a broker restart mid-answer, and other gateways keep serving while the broker is down", async () => {
    const started = daemon as Daemon;
    const gateway = mqttGateway(started);
    const reconnectsBefore = gateway.status().reconnects;
    const long = tester.result("mid-run", 40_000);
    const firstDelta = tester.next(({ frame }) => frame.id === "mid-run" && frame.type === "text-delta");
    await tester.publish({ type: "chat", id: "mid-run", message: "Once upon a time", params: { max_tokens: 1500 } });
    await firstDelta;
    await broker.stop();
    await until(() => !gateway.status().connected);
    const websocketPort = (started.gateways.find((candidate) => candidate.name.startsWith("websocket")) as unknown as { port: number }).port;
    const websocket = await WsTestClient.connect(`ws://127.0.0.1:${websocketPort}/`);
    expect((await websocket.chat("ws-1", "Once upon a time", { max_tokens: 4 })).end.type).toBe("finish");
    websocket.close();
    await broker.resume();
    await until(() => gateway.status().connected, 20_000);
    expect(gateway.status().reconnects).toBeGreaterThan(reconnectsBefore);
    expect((await long).end).toMatchObject({ type: "finish", id: "mid-run" });
    expect((await tester.chat("after-restart", "The little dog", { params: { max_tokens: 4 } })).end.type).toBe("finish");
  });
});

describe.skipIf(skip)("mqtt gateway with the documented ACL and two users: one user's client never touches another's answers", () => {
  let broker: MosquittoBroker;
  let daemon: Daemon;
  let alice: MqttTestClient;
  let bob: MqttTestClient;
  const token = (subject: string) => issueToken({ secret: testSecret, subject, roles: ["user"], ttl: "1h" });
  /** A chat of this client, answered: every frame the node published before it has reached the broker's subscribers. */
  const sync = async (client: MqttTestClient, subject: string, id: string) =>
    expect((await client.chat(id, "sync", { token: await token(subject) })).end).toMatchObject({ type: "finish", id });

  beforeAll(async () => {
    // "mallory" stands for a broker whose ACL lets a user publish on every request topic: the node must still refuse.
    const acl = `${clawbotAcl("clawbot", ["clawbot"])}\nuser mallory\ntopic write clawbot/req/#\ntopic read clawbot/res/mallory/#`;
    broker = await MosquittoBroker.start({ users: { ...passwords, mallory: "mallory-password" }, acl });
    const gateway = { type: "mqtt", broker: broker.url, ...nodeLogin, client_id: "clawbot-acl", reconnect_max_delay: 0.5, auth: { type: "jwt", secret: testSecret } };
    daemon = await startNode([gateway], { engine: "echo" });
    await until(() => mqttGateway(daemon).status().connected);
    alice = await MqttTestClient.connect(broker.url, "alice-phone", { extra: login("alice") });
    bob = await MqttTestClient.connect(broker.url, "bob-laptop", { extra: login("bob") });
  });
  afterAll(async () => {
    await alice?.close();
    await bob?.close();
    await daemon?.close();
    await broker?.close();
  });

  it("user A cannot read B's answers", async () => {
    await alice.subscribe("clawbot/res/bob");
    await alice.subscribe("clawbot/res/#");
    expect((await bob.chat("b-secret", "bob's secret question", { token: await token("bob") })).end).toMatchObject({ type: "finish" });
    await sync(alice, "alice", "a-after-secret");
    expect(alice.framesOf("b-secret")).toEqual([]);
    expect(alice.received.every(({ topic }) => topic.startsWith("clawbot/res/alice"))).toBe(true);
  });

  it("user A cannot publish as B", async () => {
    // The broker refuses (or drops) the publish on bob's request topic; nothing runs, nobody is answered.
    await alice.publishTo("clawbot/req/bob", { type: "chat", id: "as-bob", message: "hi", token: await token("alice") }).catch(() => undefined);
    await sync(bob, "bob", "b-after-as-bob");
    await sync(alice, "alice", "a-after-as-bob");
    expect([...alice.framesOf("as-bob"), ...bob.framesOf("as-bob")]).toEqual([]);
  });

  it("user A cannot redirect answers to B: the node refuses a response topic outside A's own (forbidden)", async () => {
    const gateway = mqttGateway(daemon);
    const forbiddenBefore = gateway.status().forbidden;
    const properties = { responseTopic: "clawbot/res/bob", correlationData: Buffer.from("job-7") };
    await alice.publish({ type: "chat", id: "redirect-1", message: "words of my choosing", token: await token("alice") }, properties);
    const refusal = await alice.next(({ frame }) => frame.id === "redirect-1");
    expect(refusal.topic).toBe("clawbot/res/alice");
    expect(refusal.frame).toMatchObject({ type: "error", code: "forbidden" });
    expect(Buffer.from(refusal.packet.properties?.correlationData ?? []).toString()).toBe("job-7");
    expect(gateway.status().forbidden).toBe(forbiddenBefore + 1);
    await sync(bob, "bob", "b-after-redirect");
    expect(bob.framesOf("redirect-1")).toEqual([]);
    // Below her own reply topic is hers to choose.
    await alice.subscribe("clawbot/res/alice/inbox");
    await alice.publish({ type: "chat", id: "inbox-1", message: "hello", token: await token("alice") }, { responseTopic: "clawbot/res/alice/inbox" });
    expect((await alice.next(({ frame }) => frame.id === "inbox-1" && frame.type === "finish")).topic).toBe("clawbot/res/alice/inbox");
  });

  it("keys requests by the verified subject: two subjects with the same id both get their answer, even through one client topic", async () => {
    const kiosk = await MqttTestClient.connect(broker.url, "kiosk-1", { extra: login("kiosk") });
    try {
      const forAlice = alice.result("same-1");
      const forBob = bob.result("same-1");
      await kiosk.publish({ type: "chat", id: "same-1", message: "question from alice", token: await token("alice") });
      await kiosk.publish({ type: "chat", id: "same-1", message: "question from bob", token: await token("bob") });
      expect((await forAlice).end).toMatchObject({ type: "finish", text: expect.stringContaining("from alice") });
      expect((await forBob).end).toMatchObject({ type: "finish", text: expect.stringContaining("from bob") });
      expect(kiosk.framesOf("same-1")).toEqual([]);
    } finally {
      await kiosk.close();
    }
  });

  it("refuses a request on the empty client segment (clawbot/req/), even when the broker lets it through", async () => {
    const mallory = await MqttTestClient.connect(broker.url, "mallory-1", { extra: { username: "mallory", password: "mallory-password" } });
    try {
      const gateway = mqttGateway(daemon);
      const forbiddenBefore = gateway.status().forbidden;
      const frame = { type: "chat", id: "empty-1", message: "hi", token: await token("mallory") };
      await mallory.publishTo("clawbot/req/", frame, { responseTopic: "clawbot/res/mallory" });
      await until(() => gateway.status().forbidden > forbiddenBefore);
      await sync(mallory, "mallory", "m-after-empty");
      expect(mallory.framesOf("empty-1")).toEqual([]);
    } finally {
      await mallory.close();
    }
  });
});

describe.skipIf(skip)("mqtt gateway backpressure while the broker does not take replies", () => {
  let broker: MosquittoBroker;
  let daemon: Daemon | undefined;
  let tester: MqttTestClient | undefined;
  afterAll(async () => {
    broker?.continue();
    await tester?.close();
    await daemon?.close();
    await broker?.close();
  });

  it("stops pulling tokens above max_buffered, and cancels the answer with slow_client past slow_client_timeout", async () => {
    broker = await MosquittoBroker.start();
    const maxBuffered = 2048;
    const gateway = { type: "mqtt", broker: broker.url, client_id: "clawbot-backpressure", max_buffered: maxBuffered, slow_client_timeout: 1 };
    daemon = await startNode([gateway], { context_size: 2048 });
    const mqtt = mqttGateway(daemon);
    await until(() => mqtt.status().connected);
    tester = await MqttTestClient.connect(broker.url, "slow-reader");
    const answer = tester.result("held", 40_000);
    const firstDelta = tester.next(({ frame }) => frame.id === "held" && frame.type === "text-delta");
    await tester.publish({ type: "chat", id: "held", message: "Once upon a time", params: { max_tokens: 1500 } });
    await firstDelta;
    broker.suspend();
    // The answer waits with at most max_buffered bytes (plus the frame that crossed it) held for the broker…
    await until(() => mqtt.status().waiting > 0);
    expect(mqtt.status().pendingBytes).toBeLessThan(maxBuffered + 1024);
    // …and gives up after slow_client_timeout.
    await until(() => mqtt.status().slowClient === 1);
    broker.continue();
    const { end, deltas } = await answer;
    expect(end).toMatchObject({ type: "error", id: "held", code: "slow_client" });
    expect(deltas.length).toBeLessThan(1500);
  }, 60_000);
});

describe.skipIf(skip)("mqtt gateway when the node process is killed mid-answer", () => {
  let broker: MosquittoBroker;
  let tester: MqttTestClient | undefined;
  beforeAll(async () => {
    broker = await MosquittoBroker.start();
  });
  afterEach(async () => {
    await tester?.close();
    tester = undefined;
    await killAll();
    removeTempDirs();
  });
  afterAll(async () => {
    await killAll();
    await broker?.close();
  });

  /** `clawbot start` as a child process, waited for until it is ready and its MQTT subscription answers. */
  const startChild = async (cwd: string, client: MqttTestClient): Promise<CliProcess> => {
    const node = spawnCli(["start", "--config", "clawbot.yaml"], { cwd, env: sandboxEnv(cwd) });
    await node.waitFor(/Clawbot is ready/);
    await node.waitFor(/mqtt resumed \d+ interrupted request/, { stream: "stderr" });
    // The subscription may still be on its way: ping until a pong comes back.
    for (let attempt = 0; ; attempt += 1) {
      const pongs = client.received.filter(({ frame }) => frame.type === "pong").length;
      await client.publish({ type: "ping" }, {}, 0);
      try {
        await client.next(({ frame }) => frame.type === "pong" && client.received.filter((other) => other.frame.type === "pong").length > pongs, 500);
        return node;
      } catch (error) {
        if (attempt > 20) throw new Error(`no pong from the node\n${node.describe()}`, { cause: error });
      }
    }
  };

  it("answers, after a restart, a request that was acknowledged when the process was SIGKILLed (at-least-once), and no answered one again", async () => {
    const cwd = tempDir("clawbot-mqtt-kill-");
    const config = {
      agent: { model_path: await testModelPath(), data_dir: "./data", temperature: 0 },
      gateways: [{ type: "mqtt", broker: broker.url, client_id: "clawbot-killed", reconnect_max_delay: 0.5, session_expiry: 3600 }],
      log_level: "info",
    };
    fs.writeFileSync(path.join(cwd, "clawbot.yaml"), YAML.stringify(config));
    // A persistent session, so replies published while nobody listens would be kept.
    tester = await MqttTestClient.connect(broker.url, "kill-tester", { extra: { clean: false, properties: { sessionExpiryInterval: 600 } } });
    const client = tester;
    const first = await startChild(cwd, client);
    expect((await client.chat("before-kill", "The little dog", { params: { max_tokens: 8 } })).end).toMatchObject({ type: "finish" });

    const firstDelta = client.next(({ frame }) => frame.id === "long-1" && frame.type === "text-delta");
    await client.publish({ type: "chat", id: "long-1", message: "Once upon a time", params: { max_tokens: 1500 } });
    await firstDelta;
    first.child.kill("SIGKILL");
    expect(await first.exited).toMatchObject({ signal: "SIGKILL" });
    expect(client.framesOf("long-1").some((frame) => frame.type === "finish"), "long-1 finished before the kill").toBe(false);
    const receivedBeforeRestart = client.received.length;

    const answer = client.result("long-1", 30_000);
    const second = await startChild(cwd, client);
    const { end } = await answer;
    expect(end).toMatchObject({ type: "finish", id: "long-1" });
    expect(second.stderr()).toMatch(/mqtt resumed 1 interrupted request\b/);
    // The answer is generated again from the start: the deltas sent after the restart add up to the whole text,
    // and the client saw the first run's partial deltas as well.
    const rerun = client.received.slice(receivedBeforeRestart).filter(({ frame }) => frame.id === "long-1" && frame.type === "text-delta");
    expect(rerun.map(({ frame }) => String(frame.text)).join("")).toBe(end.text);

    // Requests are taken in order: once a later request is answered, anything redelivered has been seen.
    expect((await client.chat("after-restart", "The little dog", { params: { max_tokens: 4 } })).end.type).toBe("finish");
    expect(client.framesOf("before-kill").filter((frame) => frame.type === "finish")).toHaveLength(1);
    expect(client.framesOf("long-1").filter((frame) => frame.type === "finish")).toHaveLength(1);
  }, 90_000);
});

describe("mqtt gateway with the broker unreachable", () => {
  it("starts at once, keeps the other gateways serving, and retries with backoff", async () => {
    const daemon = await startNode(
      [
        { type: "websocket", port: 0 },
        { type: "custom", protocol: "enterprise_mqtt", broker: "tcp://127.0.0.1:1", qos: 1, reconnect_max_delay: 0.2 },
      ],
      { engine: "echo" },
    );
    try {
      const port = (daemon.gateways[0] as unknown as { port: number }).port;
      const client = await WsTestClient.connect(`ws://127.0.0.1:${port}/`);
      expect((await client.chat("w", "hello", { max_tokens: 4 })).end.type).toBe("finish");
      client.close();
      const gateway = mqttGateway(daemon);
      await until(() => gateway.status().reconnects >= 2, 10_000);
      expect(gateway.status()).toMatchObject({ connected: false, state: "reconnecting", lastError: expect.stringContaining("ECONNREFUSED") });
    } finally {
      const closing = performance.now();
      await daemon.close();
      expect(performance.now() - closing).toBeLessThan(2_000);
    }
  });
});
