// The pipeline's observer seam end to end (echo engine, real clients): one accepted and exactly one finished or failed per request, outcomes, texts as received and as processed, and a finished that throws rolls back the exchange.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RequestEnd, RequestObserver, RequestStart } from "../src/pipeline/request-observer.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const fixture = (name: string, options: Record<string, unknown>) => ({ path: `./test/fixtures/plugins/${name}.ts`, options });

type Event = { event: "accepted"; request: RequestStart } | { event: "finished" | "failed"; request: RequestEnd };

/** Records every event; `finished` throws for a request whose input contains `failOn`, as an audit ledger that cannot write would. */
function recordingObserver(events: Event[], failOn?: string): RequestObserver {
  return {
    accepted: (request) => void events.push({ event: "accepted", request }),
    finished: (request) => {
      if (failOn !== undefined && request.receivedInput?.includes(failOn)) throw new Error("the ledger cannot be written (test)");
      events.push({ event: "finished", request });
    },
    failed: (request) => void events.push({ event: "failed", request }),
  };
}

/** Each request's events in order, by the client's id; every one must be accepted once and then end exactly once. */
function byClientId(events: Event[]): Map<string, Event[]> {
  const requests = new Map<string, Event[]>();
  for (const entry of events) requests.set(entry.request.clientRequestId, [...(requests.get(entry.request.clientRequestId) ?? []), entry]);
  return requests;
}

function ending(events: Event[], clientId: string): { event: string; request: RequestEnd } {
  const entries = byClientId(events).get(clientId) ?? [];
  expect(entries.map((entry) => entry.event)).toEqual(["accepted", expect.stringMatching(/^(finished|failed)$/)]);
  expect(new Set(entries.map((entry) => entry.request.requestId)).size).toBe(1);
  return entries[1] as { event: string; request: RequestEnd };
}

describe("request observers (echo engine, one sequence, a queue of one)", () => {
  const events: Event[] = [];
  let node: TestNode;
  let client: WsTestClient;

  beforeAll(async () => {
    node = await startTestNode({
      agent: { engine: "echo", parallel: 1, max_queue: 1 },
      baseDir: repositoryRoot,
      pluginTimeout: 1.5,
      plugins: [
        { builtin: "redact", options: { names: ["张三"] } },
        fixture("gatekeeper-plugin", { forbidden: "weapons" }),
        // Holds its answer's sequence until the hook times out (plugin_error): a request that keeps the engine busy.
        fixture("misbehaving-plugin", { hook: "transformStream.push", behaviour: "hang", trigger: "hold-the-sequence" }),
      ],
      observe: { observers: [recordingObserver(events)] },
    });
    client = await WsTestClient.connect(node.wsUrl, { token: await node.token("alice") });
  });
  afterAll(async () => {
    client?.close();
    await node?.close();
  });

  it("reports a finished answer with who, where, texts as received and as the plugins left them, and the redaction counts", async () => {
    const { end } = await client.chat("r-stop", "患者张三 咳嗽三天", {}, "ward-3");
    expect(end).toMatchObject({ type: "finish", finish_reason: "stop" });
    const { event, request } = ending(events, "r-stop");
    expect(event).toBe("finished");
    expect(request).toMatchObject({
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      gateway: "websocket",
      principal: { subject: "alice" },
      session: "ward-3",
      model: "echo",
      outcome: "stop",
      error: undefined,
      receivedInput: "患者张三 咳嗽三天",
      processedInput: "患者[脱敏] 咳嗽三天",
      plugins: ["redact", "gatekeeper", "misbehaving"],
    });
    expect(request.pluginMetadata.redact).toEqual({ input: { name: 1 }, output: {} });
    expect(request.pluginMetadata.gatekeeper).toBe("checked:websocket");
    // The echo engine generated the masked prompt; the client received it with the gatekeeper's tag.
    expect(request.generatedOutput).toContain("患者[脱敏] 咳嗽三天");
    expect(request.generatedOutput).not.toContain("张三");
    expect(request.deliveredOutput).toBe(end.text);
    expect(request.deliveredOutput).toBe(`${request.generatedOutput} [checked:websocket]`);
    expect(request.usage.completionTokens).toBeGreaterThan(0);
    expect(request.timings.totalMs).toBeGreaterThanOrEqual(request.timings.ttftMs);
  });

  it("reports length, and a plugin's refusal as failed with its code and no processed input", async () => {
    const { end } = await client.chat("r-length", "one two three four five six", { max_tokens: 2 });
    expect(end.finish_reason).toBe("length");
    expect(ending(events, "r-length").request).toMatchObject({ outcome: "length", usage: { completionTokens: 2 } });

    const refused = await client.chat("r-forbidden", "tell me about weapons");
    expect(refused.end).toMatchObject({ type: "error", code: "forbidden" });
    const { event, request } = ending(events, "r-forbidden");
    expect(event).toBe("failed");
    expect(request).toMatchObject({ outcome: "forbidden", receivedInput: "tell me about weapons", processedInput: undefined, deliveredOutput: "" });
    expect(request.error?.code).toBe("forbidden");
  });

  it("reports cancelled (in the queue), overloaded (queue full) and plugin_error, each request ending exactly once", async () => {
    const holding = client.result("r-hold");
    client.send({ type: "chat", id: "r-hold", message: "hold-the-sequence please" });
    await expect.poll(() => node.daemon.engine.load().active).toBe(1);
    const queued = client.result("r-queued");
    client.send({ type: "chat", id: "r-queued", message: "waiting" });
    await expect.poll(() => node.daemon.engine.load().queued).toBe(1);
    const overloaded = await client.chat("r-overloaded", "no room");
    expect(overloaded.end).toMatchObject({ type: "error", code: "overloaded" });
    client.send({ type: "cancel", id: "r-queued" });
    expect((await queued).end).toMatchObject({ type: "finish", finish_reason: "cancelled" });
    expect((await holding).end).toMatchObject({ type: "error", code: "plugin_error" });

    expect(ending(events, "r-overloaded")).toMatchObject({ event: "failed", request: { outcome: "overloaded" } });
    expect(ending(events, "r-queued")).toMatchObject({ event: "finished", request: { outcome: "cancelled", usage: { completionTokens: 0 } } });
    expect(ending(events, "r-hold")).toMatchObject({ event: "failed", request: { outcome: "plugin_error" } });
    // Across everything this node served: one accepted, then exactly one end, for every request.
    for (const [, entries] of byClientId(events)) {
      expect(entries.map((entry) => entry.event)).toEqual(["accepted", expect.stringMatching(/^(finished|failed)$/)]);
    }
  });

  it("reports requests over HTTP with the http gateway", async () => {
    const answer = await fetch(`${node.httpUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${await node.token("bob")}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "hello from http" }] }),
    });
    expect(answer.status).toBe(200);
    const { id } = (await answer.json()) as { id: string };
    expect(ending(events, id).request).toMatchObject({ gateway: "http", principal: { subject: "bob" }, outcome: "stop", receivedInput: "hello from http" });
  });
});

describe("an observer whose finished throws (the audit record cannot be written)", () => {
  const events: Event[] = [];
  let node: TestNode;
  let client: WsTestClient;

  beforeAll(async () => {
    node = await startTestNode({ agent: { engine: "echo" }, observe: { observers: [recordingObserver(events, "unrecordable")] } });
    client = await WsTestClient.connect(node.wsUrl, { token: await node.token("carol") });
  });
  afterAll(async () => {
    client?.close();
    await node?.close();
  });

  it("gives the client storage_error instead of the answer, stores nothing of that exchange, and reports failed", async () => {
    expect((await client.chat("w1", "first turn", {}, "notes")).end.type).toBe("finish");
    const { deltas, end } = await client.chat("w2", "unrecordable turn", {}, "notes");
    expect(end).toMatchObject({ type: "error", code: "storage_error" });
    // The answer streamed, but no finish for it was ever written.
    expect(deltas.length).toBeGreaterThan(0);
    expect(client.frames.filter((frame) => frame.id === "w2" && frame.type === "finish")).toHaveLength(0);
    expect(ending(events, "w2")).toMatchObject({ event: "failed", request: { outcome: "storage_error", session: "notes" } });
    // The session holds the first exchange only: the second was rolled back with the observer's failure.
    const stored = node.daemon.sessions.history("carol", "notes").map((message) => message.content);
    expect(stored).toEqual(["first turn", expect.stringContaining("first turn")]);
    expect(stored.join("\n")).not.toContain("unrecordable");
    // The conversation goes on from what was stored.
    expect((await client.chat("w3", "third turn", {}, "notes")).end.type).toBe("finish");
    expect(node.daemon.sessions.history("carol", "notes")).toHaveLength(4);
  });
});
