// MqttRequestHandler with the echo engine and an in-memory store: no token in the ledger, and a crash between recording and publishing never stores an exchange twice.
import type { IPublishPacket } from "mqtt";
import { describe, expect, it } from "vitest";
import { agentSchema } from "../../config/schema.js";
import { EchoEngine } from "../../engine/echo/echo-engine.js";
import { silentLogger } from "../../logging/logger.js";
import { Pipeline } from "../../pipeline/pipeline.js";
import { createAuthenticator, withRevocation } from "../../security/authenticator.js";
import { generateSm2KeyPair, type Sm2KeyPair } from "../../security/gm/gm-crypto.js";
import { RevocationList } from "../../security/revocation-list.js";
import { SmMqttRequest } from "../sm-mqtt-envelope.js";
import { issueToken } from "../../security/jwt-issuer.js";
import { openMemoryDatabase, type SqliteDatabase } from "../../store/database.js";
import { RequestLedger } from "../../store/request-ledger.js";
import { SessionRepository } from "../../store/session-repository.js";
import type { ServerFrame } from "../frame-session.js";
import { MqttRequestHandler, type ReplyTarget } from "./mqtt-request-handler.js";
import { MqttTopics } from "./mqtt-topics.js";

const secret = "unit-test-secret-0123456789-abcdefghij";

/** A node's MQTT request path on one database; `publish` answers as the broker would, or never (the process dies first). */
async function handlerOn(database: SqliteDatabase, broker: "up" | "never-acknowledges", staticKeys?: Sm2KeyPair) {
  const engine = new EchoEngine({ parallel: 2, maxQueue: 4 });
  const sessions = new SessionRepository(database);
  const pipeline = new Pipeline({ agent: agentSchema.parse({ engine: "echo" }), engine, sessions, logger: silentLogger });
  const revocations = new RevocationList(database);
  const authenticator = withRevocation(await createAuthenticator({ type: "jwt", secret, clock_tolerance: 0 }, "."), revocations);
  const published: { target: ReplyTarget; frame: ServerFrame }[] = [];
  const handler = new MqttRequestHandler({
    context: { pipeline, authenticator, engine, logger: silentLogger, baseDir: ".", isReady: () => true },
    topics: new MqttTopics("clawbot"),
    maxPayload: 65_536,
    gatewayId: "node-1",
    ledger: new RequestLedger(database),
    publish: (target, frame) => {
      published.push({ target, frame });
      return broker === "up" ? Promise.resolve(true) : new Promise<boolean>(() => undefined);
    },
    buffer: { full: () => false, drained: async () => undefined },
    ...(staticKeys ? { staticKeys } : {}),
  });
  return { handler, sessions, published, revocations };
}

const packet = (frame: Record<string, unknown> | Buffer): IPublishPacket =>
  ({ cmd: "publish", topic: "clawbot/req/alice", payload: Buffer.isBuffer(frame) ? frame : Buffer.from(JSON.stringify(frame)), qos: 1, dup: false, retain: false }) as IPublishPacket;

async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 5_000) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("MqttRequestHandler", () => {
  it("keeps no token in the ledger, and after a crash between recording and publishing sends the stored finish without storing the exchange again", async () => {
    const database = openMemoryDatabase();
    const token = await issueToken({ secret, subject: "alice", ttl: "1h" });
    const first = await handlerOn(database, "never-acknowledges");
    await first.handler.accept(packet({ type: "chat", id: "r1", session: "s1", message: "hello there", token }));
    await until(() => first.published.some(({ frame }) => frame.type === "finish"));
    const finish = first.published.find(({ frame }) => frame.type === "finish")?.frame;
    const rows = database.prepare("SELECT * FROM mqtt_request_ledger").all();
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(rows).toMatchObject([{ owner: "alice", request_id: "r1", state: "recorded" }]);
    expect(first.sessions.history("alice", "s1")).toHaveLength(2);

    // The process dies before the broker took the finish; the next one resumes from the same database.
    const second = await handlerOn(database, "up");
    expect(second.handler.resumeInterrupted()).toBe(1);
    await until(() => second.published.length > 0);
    expect(second.published).toEqual([{ target: { topic: "clawbot/res/alice" }, frame: finish }]);
    await until(() => new RequestLedger(database).state("node-1", "alice", "r1") === "answered");
    expect(second.sessions.history("alice", "s1")).toHaveLength(2);
  });

  it("resumes an accepted request as its stored principal, and refuses one whose token expired meanwhile", async () => {
    const database = openMemoryDatabase();
    const ledger = new RequestLedger(database);
    const principal = { subject: "alice", roles: ["user"], scopes: [], claims: {} };
    const stored = { gateway: "node-1", owner: "alice", principal, replyTopic: "clawbot/res/alice" };
    ledger.accept({ ...stored, requestId: "live", request: '{"type":"chat","id":"live","message":"one two"}', expiresAt: Date.now() + 60_000 });
    ledger.accept({ ...stored, requestId: "expired", request: '{"type":"chat","id":"expired","message":"hi"}', expiresAt: Date.now() - 1 });
    const node = await handlerOn(database, "up");
    expect(node.handler.resumeInterrupted()).toBe(2);
    await until(() => node.published.filter(({ frame }) => frame.type === "finish" || frame.type === "error").length === 2);
    expect(node.published.find(({ frame }) => frame.id === "live" && frame.type === "finish")?.frame).toMatchObject({ text: expect.stringContaining("one two") });
    expect(node.published.find(({ frame }) => frame.id === "expired")?.frame).toMatchObject({ type: "error", code: "unauthorized" });
  });

  it("answers a resumed request whose token (by jti or subject) was revoked meanwhile with unauthorized, and marks it answered", async () => {
    const database = openMemoryDatabase();
    const ledger = new RequestLedger(database);
    const stored = { gateway: "node-1", replyTopic: "clawbot/res/alice", expiresAt: Date.now() + 60_000 };
    const principal = (subject: string, jti: string) => ({ subject, roles: ["user"], scopes: [], claims: { jti, iat: Math.floor(Date.now() / 1000) - 10 } });
    ledger.accept({ ...stored, owner: "alice", principal: principal("alice", "jti-revoked"), requestId: "by-jti", request: '{"type":"chat","id":"by-jti","message":"hi"}' });
    ledger.accept({ ...stored, owner: "bob", principal: principal("bob", "jti-bob"), requestId: "by-subject", request: '{"type":"chat","id":"by-subject","message":"hi"}' });
    ledger.accept({ ...stored, owner: "carol", principal: principal("carol", "jti-carol"), requestId: "kept", request: '{"type":"chat","id":"kept","message":"still fine"}' });
    const node = await handlerOn(database, "up");
    node.revocations.revokeToken("jti-revoked");
    node.revocations.revokeSubject("bob");
    expect(node.handler.resumeInterrupted()).toBe(3);
    await until(() => ["by-jti", "by-subject", "kept"].every((id) => ledger.state("node-1", id === "by-jti" ? "alice" : id === "by-subject" ? "bob" : "carol", id) === "answered"));
    for (const id of ["by-jti", "by-subject"]) {
      expect(node.published.filter(({ frame }) => frame.id === id).map(({ frame }) => frame)).toEqual([expect.objectContaining({ type: "error", code: "unauthorized", message: "token revoked" })]);
    }
    expect(node.published.find(({ frame }) => frame.id === "kept" && frame.type === "finish")?.frame).toMatchObject({ text: expect.stringContaining("still fine") });
    expect(node.sessions.history("alice", "default").length + node.sessions.history("bob", "default").length).toBe(0);
  });

  it("with encryption, seals every reply, keeps no token in the ledger, and answers a resumed sealed request under fresh reply keys the client opens", async () => {
    const database = openMemoryDatabase();
    const staticKeys = generateSm2KeyPair();
    const token = await issueToken({ secret, subject: "alice", ttl: "1h" });
    const request = new SmMqttRequest(staticKeys.publicKey);
    const first = await handlerOn(database, "never-acknowledges", staticKeys);
    await first.handler.accept(packet(request.seal(JSON.stringify({ type: "chat", id: "s1", session: "s", message: "sealed words", token }))));
    await until(() => first.published.some(({ frame }) => frame.type === "finish"));
    expect(first.published.every(({ target }) => target.sealed !== undefined)).toBe(true);
    const stored = JSON.stringify(database.prepare("SELECT * FROM mqtt_request_ledger").all());
    expect(stored).not.toContain(token);

    const second = await handlerOn(database, "up", staticKeys);
    expect(second.handler.resumeInterrupted()).toBe(1);
    await until(() => second.published.length > 0);
    const [resumed] = second.published;
    expect(resumed?.target.sealed).toBeDefined();
    const opened = request.open(resumed?.target.sealed?.seal(JSON.stringify(resumed.frame)) as Buffer);
    expect(JSON.parse(opened as string)).toMatchObject({ type: "finish", id: "s1", text: expect.stringContaining("sealed words") });
  });
});
