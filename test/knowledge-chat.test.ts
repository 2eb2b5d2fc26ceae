// Knowledge in chat, end to end: a knowledge base ingested here, a real node, real clients (ws, openai, mqtt); sources in the prompt, citations out.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { verifyChain, type RawAuditRecord } from "../src/audit/audit-verify.js";
import { ingest } from "../src/knowledge/ingest.js";
import { KnowledgeDatabase } from "../src/knowledge/knowledge-database.js";
import { TextSegmenter } from "../src/knowledge/text-segmenter.js";
import { issueToken } from "../src/security/jwt-issuer.js";
import { mqttAvailable } from "./helpers/chat-transports.js";
import { runCli } from "./helpers/cli-process.js";
import { MosquittoBroker } from "./helpers/mosquitto.js";
import { MqttTestClient } from "./helpers/mqtt-test-client.js";
import { startTestNode, testSecret, type TestNode } from "./helpers/test-node.js";
import { WsTestClient, type Frame } from "./helpers/ws-test-client.js";

const zorblax = "Patient with zorblax syndrome was given 40 mg of quintaprine daily.";
const velmora = "Velmora fever guideline: rest, fluids and tepid sponging for three days.";
const records = [
  { id: "MR-0001", text: zorblax },
  { id: "MR-0002", text: "患者诊断为糖尿病，胰岛素剂量每日二十单位。" },
  { id: "MR-0003", text: "Routine checkup: blood pressure normal, no medication." },
];

/** A data directory whose knowledge base holds `cases` (three jsonl records) and `guidelines` (one Markdown file). */
async function knowledgeDataDir(): Promise<string> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-knowledge-chat-"));
  const sources = path.join(directory, "sources");
  fs.mkdirSync(path.join(sources, "guidelines"), { recursive: true });
  fs.writeFileSync(path.join(sources, "cases.jsonl"), records.map((record) => JSON.stringify(record)).join("\n") + "\n");
  fs.writeFileSync(path.join(sources, "guidelines", "velmora.md"), `# Velmora\n\n${velmora}\n`);
  const dataDir = path.join(directory, "data");
  fs.mkdirSync(dataDir, { mode: 0o700 });
  const database = KnowledgeDatabase.open(path.join(dataDir, "knowledge.db"), { segmenter: TextSegmenter.create() });
  try {
    const chunk = { maxTokens: 256, overlapTokens: 32 };
    await ingest(database, [path.join(sources, "cases.jsonl")], { collection: "cases", chunk });
    await ingest(database, [path.join(sources, "guidelines")], { collection: "guidelines", chunk });
  } finally {
    database.close();
  }
  return dataDir;
}

type WireCitation = { index: number; doc_id: string; collection: string; source: string; chunk: number; score: number };

const citationsOf = (frame: Frame) => frame.citations as WireCitation[] | undefined;

function auditRecords(node: TestNode): RawAuditRecord[] {
  return node.daemon.database.prepare("SELECT sequence, recorded_at AS recordedAt, kind, body, hash FROM audit_records ORDER BY sequence").all() as RawAuditRecord[];
}

function auditBody(node: TestNode, clientRequestId: string): Record<string, unknown> | undefined {
  const bodies = auditRecords(node)
    .filter((record) => record.kind === "request")
    .map((record) => JSON.parse(record.body) as Record<string, unknown>);
  return bodies.find((body) => body.client_request_id === clientRequestId);
}

describe("knowledge in chat (echo engine: the answer is the prompt)", () => {
  let node: TestNode;
  let broker: MosquittoBroker | undefined;
  let client: WsTestClient;

  beforeAll(async () => {
    const dataDir = await knowledgeDataDir();
    if (mqttAvailable) broker = await MosquittoBroker.start();
    node = await startTestNode({ agent: { engine: "echo", max_tokens: 1024 }, dataDir, knowledge: { enabled: true, top_k: 3 }, ...(broker ? { mqttBroker: broker.url } : {}) });
    client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
  });

  afterAll(async () => {
    client?.close();
    await node?.close();
    await broker?.stop();
  });

  it("puts the matching chunk into the prompt with a [1] tag, and the finish frame cites it", async () => {
    const { deltas, end } = await client.chat("ws-1", "How much quintaprine for zorblax?");
    expect(end.type).toBe("finish");
    const answer = deltas.join("");
    expect(answer).toContain(zorblax);
    expect(answer).toContain("[1] ");
    expect(answer).toContain("Question: How much quintaprine for zorblax?");
    const citations = citationsOf(end);
    expect(citations?.[0]).toMatchObject({ index: 1, doc_id: "MR-0001", collection: "cases", source: expect.stringContaining("cases.jsonl"), chunk: 0, score: expect.any(Number) });
    expect(answer).toContain(`[1] ${citations?.[0]?.source} (MR-0001)`);
    expect(citations?.map((citation) => citation.index)).toEqual(citations?.map((_, index) => index + 1));
  });

  it("clawbot chat prints the answer's sources under it", async () => {
    const result = await runCli(["chat", "--url", node.wsUrl, "--token", await node.token()], { cwd: os.tmpdir(), stdin: "How much quintaprine for zorblax?\n" });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(zorblax);
    expect(result.stderr).toMatch(/^\[1\] \S*cases\.jsonl:1 \(MR-0001\)$/m);
  });

  it("params.knowledge false: no sources, no citations", async () => {
    const { deltas, end } = await client.chat("ws-off", "How much quintaprine for zorblax?", { knowledge: false });
    expect(end.type).toBe("finish");
    expect(deltas.join("")).not.toContain(zorblax);
    expect(end).not.toHaveProperty("citations");
  });

  it("named collections scope the search", async () => {
    const question = "zorblax quintaprine or velmora fever?";
    const guidelines = await client.chat("ws-guidelines", question, { knowledge: { collections: ["guidelines"] } });
    expect(citationsOf(guidelines.end)?.map((citation) => citation.collection)).toEqual(["guidelines"]);
    expect(guidelines.deltas.join("")).toContain(velmora);
    expect(guidelines.deltas.join("")).not.toContain(zorblax);
    const cases = await client.chat("ws-cases", question, { knowledge: { collections: ["cases"] } });
    expect(citationsOf(cases.end)?.every((citation) => citation.collection === "cases")).toBe(true);
    expect(citationsOf(cases.end)?.[0]?.doc_id).toBe("MR-0001");
    const both = await client.chat("ws-both", question);
    expect(new Set(citationsOf(both.end)?.map((citation) => citation.collection))).toEqual(new Set(["cases", "guidelines"]));
  });

  it("a question that matches nothing goes as it is, without citations", async () => {
    const { deltas, end } = await client.chat("ws-none", "xylophone");
    expect(end.type).toBe("finish");
    expect(deltas.join("")).toBe("xylophone");
    expect(end).not.toHaveProperty("citations");
  });

  it("refuses a malformed knowledge value with bad_request, and the connection stays usable", async () => {
    const { end } = await client.chat("ws-bad", "zorblax", { knowledge: { collections: [] } });
    expect(end).toMatchObject({ type: "error", code: "bad_request" });
    expect((await client.chat("ws-after-bad", "zorblax")).end.type).toBe("finish");
  });

  it("stores the question, not the sources, as the session's turn", async () => {
    const question = "What was given for zorblax?";
    const { end } = await client.chat("ws-session", question, {}, "kb-session");
    expect(citationsOf(end)?.length).toBeGreaterThan(0);
    const history = node.daemon.sessions.history("alice", "kb-session");
    expect(history[0]).toEqual({ role: "user", content: question });
    expect(history).toHaveLength(2);
  });

  it("records what was retrieved in the audit ledger, and the chain still verifies", async () => {
    const retrieved = auditBody(node, "ws-1")?.retrieved as Record<string, unknown>[];
    expect(retrieved[0]).toEqual({ doc_id: "MR-0001", collection: "cases", chunk: 0, score: expect.any(Number) });
    for (const entry of retrieved) expect(Object.keys(entry).sort()).toEqual(["chunk", "collection", "doc_id", "score"]);
    expect(JSON.stringify(retrieved)).not.toContain("quintaprine");
    expect(auditBody(node, "ws-off")?.retrieved).toEqual([]);
    expect(verifyChain(auditRecords(node)).broken).toBeUndefined();
  });

  it("times each search in the metrics, by mode and outcome", async () => {
    const exposition = await node.daemon.metrics.registry.getSingleMetricAsString("clawbot_knowledge_search_duration_seconds");
    const count = (outcome: string) => Number(new RegExp(`clawbot_knowledge_search_duration_seconds_count\\{mode="bm25",outcome="${outcome}"\\} (\\d+)`).exec(exposition)?.[1] ?? 0);
    expect(count("found")).toBeGreaterThanOrEqual(4);
    expect(count("empty")).toBeGreaterThanOrEqual(1);
  });

  it("over HTTP (the openai package): the chat.completion has top-level citations, the last SSE chunk too", async () => {
    const openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token(), maxRetries: 0 });
    const body = { model: "echo", messages: [{ role: "user" as const, content: "zorblax dose?" }], knowledge: { collections: ["cases"] } };
    const completion = await openai.chat.completions.create(body as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming);
    expect(completion.choices[0]?.message.content).toContain(zorblax);
    const citations = (completion as unknown as { citations?: WireCitation[] }).citations;
    expect(citations?.[0]).toMatchObject({ index: 1, doc_id: "MR-0001", collection: "cases", chunk: 0 });

    const stream = await openai.chat.completions.create({ ...body, stream: true } as OpenAI.Chat.ChatCompletionCreateParamsStreaming);
    const chunks: (OpenAI.Chat.ChatCompletionChunk & { citations?: WireCitation[] })[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.findLast((chunk) => chunk.choices[0]?.finish_reason);
    expect(last?.citations?.[0]).toMatchObject({ index: 1, doc_id: "MR-0001" });
    expect(chunks.filter((chunk) => chunk.citations !== undefined)).toHaveLength(1);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("")).toContain(zorblax);

    const off = await openai.chat.completions.create({ ...body, knowledge: false } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming);
    expect(off).not.toHaveProperty("citations");
    expect(off.choices[0]?.message.content).not.toContain(zorblax);
  });

  it("over HTTP: a bad knowledge value is a 400 naming it; /v1/completions never retrieves", async () => {
    const openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token(), maxRetries: 0 });
    const bad = { model: "echo", messages: [{ role: "user" as const, content: "zorblax" }], knowledge: "all" };
    const refused = await openai.chat.completions.create(bad as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect(String((refused as InstanceType<typeof OpenAI.BadRequestError>).message)).toContain("knowledge");
    const raw = await openai.completions.create({ model: "echo", prompt: "zorblax quintaprine", knowledge: true } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(raw.choices[0]?.text).toBe("zorblax quintaprine");
    expect(raw).not.toHaveProperty("citations");
  });

  it.runIf(mqttAvailable)("over MQTT: the finish frame carries the citations", async () => {
    const mqtt = node.mqtt as NonNullable<TestNode["mqtt"]>;
    const tester = await MqttTestClient.connect(mqtt.url, "kb-tester", { prefix: mqtt.prefix });
    try {
      const { end } = await tester.chat("mqtt-1", "zorblax?", { token: await node.token(), params: { knowledge: { collections: ["cases"] } } });
      expect(end.type).toBe("finish");
      expect(citationsOf(end)?.[0]).toMatchObject({ index: 1, doc_id: "MR-0001", collection: "cases" });
      expect(String(end.text)).toContain(zorblax);
      const off = await tester.chat("mqtt-off", "zorblax?", { token: await node.token(), params: { knowledge: false }, stream: false });
      expect(off.end).not.toHaveProperty("citations");
    } finally {
      await tester.close();
    }
  });
});

describe("knowledge and the security policy (echo engine)", () => {
  let node: TestNode;
  const token = (subject: string, ...roles: string[]) => issueToken({ secret: testSecret, subject, roles, ttl: "1h" });

  beforeAll(async () => {
    const dataDir = await knowledgeDataDir();
    const policy = path.join(path.dirname(dataDir), "policy.yaml");
    fs.writeFileSync(policy, ["roles:", "  doctor: {gateways: ['*'], collections: [cases]}", "  visitor: {gateways: ['*']}", ""].join("\n"));
    node = await startTestNode({ agent: { engine: "echo", max_tokens: 1024 }, dataDir, knowledge: { enabled: true }, security: { policy_file: policy } });
  });

  afterAll(async () => {
    await node?.close();
  });

  it("searches only the collections the roles may read, and refuses naming another with forbidden", async () => {
    const doctor = await WsTestClient.connect(node.wsUrl, { token: await token("dr-li", "doctor") });
    const visitor = await WsTestClient.connect(node.wsUrl, { token: await token("guest-1", "visitor") });
    try {
      const question = "zorblax quintaprine or velmora fever?";
      const scoped = await doctor.chat("p-1", question);
      expect(citationsOf(scoped.end)?.map((citation) => citation.collection)).toEqual(["cases"]);
      expect(scoped.deltas.join("")).not.toContain(velmora);
      const named = await doctor.chat("p-2", question, { knowledge: { collections: ["guidelines"] } });
      expect(named.end).toMatchObject({ type: "error", code: "forbidden", message: expect.stringContaining("guidelines") });
      const none = await visitor.chat("p-3", question);
      expect(none.end.type).toBe("finish");
      expect(none.end).not.toHaveProperty("citations");
      expect(none.deltas.join("")).toBe(question);
      const openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await token("dr-li", "doctor"), maxRetries: 0 });
      const body = { model: "echo", messages: [{ role: "user" as const, content: question }], knowledge: { collections: ["guidelines"] } };
      const refused = await openai.chat.completions.create(body as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(OpenAI.PermissionDeniedError);
    } finally {
      doctor.close();
      visitor.close();
    }
  });
});

describe("knowledge.embed_with_engine through the node (echo engine's vectors)", () => {
  it("binds the engine's embedder once it has loaded, embeds the chunks that have no vector: hybrid search, citations in the finish", async () => {
    const node = await startTestNode({ agent: { engine: "echo", max_tokens: 1024 }, dataDir: await knowledgeDataDir(), knowledge: { enabled: true, embed_with_engine: true } });
    try {
      expect(node.daemon.knowledge?.stage.mode).toBe("hybrid");
      expect(node.daemon.knowledge?.database.embedding()).toMatchObject({ model: "engine:echo" });
      // The chunks were ingested without vectors (the CLI has no engine): the node embeds them in the background.
      const database = node.daemon.knowledge?.database as KnowledgeDatabase;
      await vi.waitFor(() => expect(database.stats().vectors).toBe(database.stats().chunks), { timeout: 10_000 });
      expect(database.stats().vectors).toBeGreaterThan(0);
      const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
      const { end } = await client.chat("hybrid-1", "zorblax quintaprine");
      client.close();
      expect(citationsOf(end)?.[0]).toMatchObject({ doc_id: "MR-0001" });
    } finally {
      await node.close();
    }
  });

  it("refuses to start over vectors of another model, saying to run clawbot kb embed --reset", async () => {
    const dataDir = await knowledgeDataDir();
    const database = KnowledgeDatabase.open(path.join(dataDir, "knowledge.db"), { segmenter: TextSegmenter.create() });
    try {
      database.useEmbedding("another-model", 4);
      const [first] = database.chunksWithoutVectors(1);
      database.writeVectors([{ chunkId: (first as { chunkId: number }).chunkId, vector: Float32Array.from([1, 0, 0, 0]) }]);
    } finally {
      database.close();
    }
    await expect(startTestNode({ agent: { engine: "echo" }, dataDir, knowledge: { enabled: true, embed_with_engine: true } })).rejects.toThrow(/clawbot kb embed --reset/);
  });
});

describe("knowledge in chat with the real test model", () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await startTestNode({ dataDir: await knowledgeDataDir(), knowledge: { enabled: true, top_k: 2 } });
  });

  afterAll(async () => {
    await node?.close();
  });

  it("completes a turn with sources and lists the citations", async () => {
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    try {
      const { end } = await client.chat("real-1", "zorblax?", { max_tokens: 16 });
      expect(end.type).toBe("finish");
      expect(citationsOf(end)?.[0]).toMatchObject({ index: 1, doc_id: "MR-0001", collection: "cases" });
      // The prompt the model read holds the sources: far more than the question's few tokens.
      expect((end.usage as { prompt_tokens: number }).prompt_tokens).toBeGreaterThan(40);
    } finally {
      client.close();
    }
  });
});
