// A document ingested on node A through the real `clawbot kb` CLI reaches node B's knowledge base through the
// cluster's knowledge stream, and B finds it by search; deletions follow, malformed messages are skipped.
import fs from "node:fs";
import path from "node:path";
import { connect } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterNames } from "../../src/cluster/cluster-names.js";
import { openNatsLink, type NatsLink } from "../../src/cluster/nats-connection.js";
import { startKnowledgeReplica, type KnowledgeReplica } from "../../src/cluster/replicated-knowledge.js";
import { clusterSchema } from "../../src/config/cluster-schema.js";
import { knowledgeSchema } from "../../src/config/schema.js";
import { EchoEngine } from "../../src/engine/echo/echo-engine.js";
import { openKnowledge, type KnowledgeService } from "../../src/knowledge/knowledge-service.js";
import { silentLogger } from "../../src/logging/logger.js";
import { killAll, removeTempDirs, runCli, sandboxEnv, tempDir } from "../helpers/cli-process.js";
import { NatsServer } from "../helpers/nats-server.js";

let server: NatsServer;
let knowledge: KnowledgeService;
let link: NatsLink;
let replica: KnowledgeReplica;
const cluster = "kbrepl";

beforeAll(async () => {
  server = await NatsServer.start();
  const dataDir = tempDir("clawbot-kb-node-b-");
  knowledge = (await openKnowledge(knowledgeSchema.parse({ enabled: true }), {
    dataDir,
    baseDir: dataDir,
    engine: new EchoEngine({ parallel: 1, maxQueue: 1 }),
    logger: silentLogger,
    threads: 1,
  })) as KnowledgeService;
  const config = clusterSchema.parse({ nats: server.url, name: cluster, node_id: "node-b" });
  link = openNatsLink(config, { nodeId: "node-b", logger: silentLogger });
  replica = startKnowledgeReplica({ link, names: clusterNames(config), nodeId: "node-b", replicas: 1, knowledge, logger: silentLogger });
  await replica.started;
}, 30_000);

afterAll(async () => {
  await replica?.close();
  await link?.close();
  await knowledge?.close();
  await server?.close();
  killAll();
  removeTempDirs();
});

/** Node A: a data directory and a config naming the cluster; the CLI run there. */
function nodeA() {
  const root = tempDir("clawbot-kb-node-a-");
  fs.writeFileSync(path.join(root, "clawbot.yaml"), `node_id: node-a\nagent:\n  data_dir: ./data\ncluster:\n  nats: ${server.url}\n  name: ${cluster}\n`);
  return { root, kb: (args: string[]) => runCli(["kb", ...args], { cwd: root, env: sandboxEnv(root), timeoutMs: 60_000 }) };
}

async function found(query: string): Promise<string[]> {
  const results = await knowledge.retriever.search({ text: query, collections: "*", topK: 5 });
  return results.map((result) => result.docId);
}

async function eventually(check: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe("knowledge-base replication", () => {
  it("a document ingested on A by `kb ingest` is found by B's search, and `kb delete` removes it there", async () => {
    const a = nodeA();
    const corpus = path.join(a.root, "notes.jsonl");
    fs.writeFileSync(corpus, `${JSON.stringify({ id: "z1", text: "The zorblax protocol governs the quarantine ward.", ward: "3" })}\n${JSON.stringify({ id: "z2", text: "An ordinary note about lunch." })}\n`);
    const ingested = await a.kb(["ingest", corpus, "--collection", "wards", "--meta-fields", "ward"]);
    expect(ingested.code, ingested.stderr).toBe(0);
    expect(ingested.stdout).toMatch(/Published to cluster "kbrepl" in 1 message/);
    await eventually(async () => expect(await found("zorblax quarantine")).toEqual(["z1"]));
    const [hit] = await knowledge.retriever.search({ text: "zorblax", collections: ["wards"], topK: 1 });
    expect(hit?.metadata).toEqual({ ward: "3" });

    // A is a node of its own: its knowledge base has the documents too (written locally first).
    const local = await a.kb(["search", "zorblax", "--json"]);
    expect(JSON.parse(local.stdout).results.map((result: { doc_id: string }) => result.doc_id)).toEqual(["z1"]);

    const deleted = await a.kb(["delete", "--doc", "z1", "--collection", "wards"]);
    expect(deleted.code, deleted.stderr).toBe(0);
    await eventually(async () => expect(await found("zorblax quarantine")).toEqual([]));
    expect(await found("lunch")).toEqual(["z2"]);
  }, 120_000);

  it("skips malformed knowledge messages and keeps applying", async () => {
    const raw = await connect({ servers: server.url });
    const skippedBefore = replica.stats().skipped;
    try {
      const jetstream = raw.jetstream();
      const names = clusterNames({ name: cluster });
      const bad = [
        "not json",
        JSON.stringify({ v: 1, origin: "evil", change: { kind: "documents", collection: "x", documents: [{ doc_id: 5 }] } }),
        JSON.stringify({ v: 1, origin: "evil", change: { kind: "delete_collection" } }),
      ];
      for (const payload of bad) await jetstream.publish(`${names.knowledgeSubject}.evil.all`, new TextEncoder().encode(payload));
      const good = { kind: "documents", collection: "direct", documents: [{ doc_id: "q1", source: "x:1", file: "/elsewhere/x.jsonl", text: "quixotic manifest", metadata: {} }] };
      await jetstream.publish(`${names.knowledgeSubject}.evil.all`, new TextEncoder().encode(JSON.stringify({ v: 1, origin: "evil", change: good })));
    } finally {
      await raw.close();
    }
    await eventually(async () => expect(await found("quixotic")).toEqual(["q1"]));
    expect(replica.stats().skipped - skippedBefore).toBe(3);
  }, 30_000);
});
