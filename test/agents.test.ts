// Several agents on one node (config `agents`): each one's prompt, tools and grant, chosen by the OpenAI `model`, WebSocket
// `params.agent` or the gateway's default; the roles' `agents` grant; an agent with its own model file and engine.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../src/config/load.js";
import { configSchema } from "../src/config/schema.js";
import { createDaemon, type Daemon } from "../src/daemon/daemon.js";
import { silentLogger } from "../src/logging/logger.js";
import type { RequestStart } from "../src/pipeline/request-observer.js";
import { issueToken } from "../src/security/jwt-issuer.js";
import { testSecret } from "./helpers/test-node.js";
import { testModelPath } from "./helpers/test-model.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

const wardTools = path.resolve("test/fixtures/plugins/ward-tools-plugin.ts");
const auth = { type: "jwt", secret: testSecret };
const defaultPrompt = "You are GENERAL-ASSISTANT.";
const triagePrompt = "You are TRIAGE-NURSE.";
const clerkPrompt = "You are RECORDS-CLERK.";

const token = (subject: string, ...roles: string[]) => issueToken({ secret: testSecret, subject, roles, ttl: "1h" });

interface AgentsNode {
  daemon: Daemon;
  wsUrl: string;
  httpUrl: string;
  dataDir: string;
  accepted: RequestStart[];
}

/** A real node from a config: a WebSocket and an HTTP gateway sharing a free port (each may name a default agent). */
async function startNode(
  sections: Record<string, unknown>,
  options: { websocket?: Record<string, unknown>; http?: Record<string, unknown>; modelPath?: string; dataDir?: string } = {},
): Promise<AgentsNode> {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-agents-test-"));
  const { agent, ...rest } = sections;
  const config = configSchema.parse({
    agent: { engine: "echo", temperature: 0, data_dir: dataDir, ...(agent as Record<string, unknown>) },
    gateways: [
      { type: "websocket", port: 0, auth, ...options.websocket },
      { type: "http", port: 0, auth, ...options.http },
    ],
    metrics: { port: 0 },
    shutdown_grace: 5,
    ...rest,
  });
  const accepted: RequestStart[] = [];
  const daemon = await createDaemon({
    config,
    baseDir: dataDir,
    modelPath: options.modelPath,
    logger: silentLogger,
    extraObservers: [{ accepted: (start) => void accepted.push(start) }],
  });
  const port = (daemon.gateways[0] as unknown as { port: number }).port;
  return { daemon, wsUrl: `ws://127.0.0.1:${port}/`, httpUrl: `http://127.0.0.1:${port}`, dataDir, accepted };
}

/** The error the official client throws, or a failure when the call succeeded. */
async function apiError(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const outcome = await call.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected an API error, got ${JSON.stringify(outcome.value).slice(0, 300)}`);
  expect(outcome.error).toBeInstanceOf(OpenAI.APIError);
  return outcome.error as InstanceType<typeof OpenAI.APIError>;
}

const question = [{ role: "user" as const, content: "who are you?" }];

describe("several agents on one node (echo engine)", () => {
  let node: AgentsNode;
  let policyFile: string;

  beforeAll(async () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-agents-policy-"));
    policyFile = path.join(directory, "policy.yaml");
    fs.writeFileSync(
      policyFile,
      ["roles:", '  user: {gateways: ["*"], tools: ["*"]}', '  nurse: {gateways: ["*"], tools: ["*"], agents: [triage]}', ""].join("\n"),
    );
    node = await startNode(
      {
        agent: { system_prompt: defaultPrompt, max_tokens: 4000 },
        agents: [
          { name: "triage", system_prompt: triagePrompt, tools: ["free_beds"], params: { max_tokens: 3000 } },
          { name: "clerk", system_prompt: clerkPrompt, tools: [], model_aliases: ["records"], params: { max_tokens: 7 } },
        ],
        plugins: [{ path: wardTools }],
        security: { policy_file: policyFile },
      },
      // The WebSocket gateway's requests that name no agent go to the clerk; the HTTP gateway's to the default agent.
      { websocket: { agent: "clerk" } },
    );
  });
  afterAll(async () => node?.daemon.close());

  async function openai(...roles: string[]): Promise<OpenAI> {
    return new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await token("alice", ...(roles.length > 0 ? roles : ["user"])), maxRetries: 0 });
  }

  it("answers as the agent the OpenAI model field names, with its system prompt and its tools' catalog", async () => {
    const client = await openai();
    const triage = await client.chat.completions.create({ model: "triage", messages: question });
    const answer = triage.choices[0]?.message.content ?? "";
    expect(answer).toContain(triagePrompt);
    expect(answer).not.toContain(defaultPrompt);
    // The echo engine echoes the prompt: the triage agent is offered its one tool, and only that.
    expect(answer).toContain("free_beds");
    expect(answer).not.toContain("page_doctor");
    const clerk = await client.chat.completions.create({ model: "records", messages: question, max_tokens: 1000 });
    expect(clerk.choices[0]?.message.content).toContain(clerkPrompt);
    expect(clerk.choices[0]?.message.content).not.toContain("free_beds");
    // The model's own name is the default agent on this gateway (it names no default).
    const general = await client.chat.completions.create({ model: "echo", messages: question });
    expect(general.choices[0]?.message.content).toContain(defaultPrompt);
    expect(general.choices[0]?.message.content).toContain("page_doctor");
  });

  it("uses the agent's own params: the clerk's max_tokens of 7 cuts its answer, the legacy completions route included", async () => {
    const client = await openai();
    const long = [{ role: "user" as const, content: "one two three four five six seven eight nine ten" }];
    const clerk = await client.chat.completions.create({ model: "clerk", messages: long });
    expect(clerk.choices[0]?.finish_reason).toBe("length");
    expect(clerk.usage?.completion_tokens).toBe(7);
    const triage = await client.chat.completions.create({ model: "triage", messages: long });
    expect(triage.choices[0]?.finish_reason).toBe("stop");
    const legacy = await client.completions.create({ model: "clerk", prompt: "one two three four five six seven eight nine ten" });
    expect(legacy.choices[0]?.finish_reason).toBe("length");
    expect(legacy.choices[0]?.text).toBe("one two three four five six seven ");
  });

  it("lists the model and every agent (and its aliases) on /v1/models; an unknown model is model_not_found", async () => {
    const client = await openai();
    const models = await client.models.list();
    expect(models.data.map((model) => model.id)).toEqual(["echo", "triage", "clerk", "records"]);
    for (const model of models.data) expect(model).toMatchObject({ object: "model", owned_by: "clawbot" });
    expect(await client.models.retrieve("clerk")).toMatchObject({ id: "clerk", object: "model" });
    const unknown = await apiError(client.chat.completions.create({ model: "surgeon", messages: question }));
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect({ code: unknown.code, param: unknown.param }).toEqual({ code: "model_not_found", param: "model" });
    expect(unknown.message).toContain('"triage"');
    const legacy = await apiError(client.completions.create({ model: "default", prompt: "hi" }));
    expect(legacy.code).toBe("model_not_found");
  });

  it("picks the agent from WebSocket params.agent, else the gateway's default agent", async () => {
    const client = await WsTestClient.connect(node.wsUrl, { token: await token("alice", "user") });
    try {
      const defaulted = await client.chat("d1", "who are you?", { max_tokens: 1000 });
      expect(defaulted.end).toMatchObject({ type: "finish" });
      expect(defaulted.deltas.join("")).toContain(clerkPrompt);
      const named = await client.chat("n1", "who are you?", { agent: "triage" });
      expect(named.deltas.join("")).toContain(triagePrompt);
      const general = await client.chat("g1", "who are you?", { agent: "default" });
      expect(general.deltas.join("")).toContain(defaultPrompt);
      const unknown = await client.chat("u1", "who are you?", { agent: "surgeon" });
      expect(unknown.end).toMatchObject({ type: "error", code: "bad_request", param: "agent" });
      expect(String(unknown.end.message)).toContain('"surgeon"');
    } finally {
      client.close();
    }
  });

  it("lets the triage agent call free_beds, and refuses that call to the clerk, whose tools are none", async () => {
    const client = await WsTestClient.connect(node.wsUrl, { token: await token("alice", "user") });
    const forced = { type: "function", function: { name: "free_beds" } };
    try {
      const triage = await client.chat("t1", '{"ward": "icu"}', { agent: "triage", tool_choice: forced });
      expect(triage.end).toMatchObject({ type: "finish" });
      const result = client.frames.find((frame) => frame.id === "t1" && frame.type === "tool-result");
      expect(result).toMatchObject({ name: "free_beds", outcome: "ok" });
      expect(String(result?.content)).toContain('"free":1');
      // The pipeline refuses a named node tool outside the agent's list before generating: forbidden, naming tool_choice.
      const clerk = await client.chat("c1", '{"ward": "icu"}', { agent: "clerk", tool_choice: forced });
      expect(clerk.end).toMatchObject({ type: "error", code: "forbidden", param: "tool_choice" });
      expect(client.frames.some((frame) => frame.id === "c1" && frame.type === "tool-call")).toBe(false);
    } finally {
      client.close();
    }
  });

  it("refuses an agent the roles' agents grant leaves out, on every route, and serves the granted one", async () => {
    const nurse = await openai("nurse");
    const granted = await nurse.chat.completions.create({ model: "triage", messages: question });
    expect(granted.choices[0]?.message.content).toContain(triagePrompt);
    for (const model of ["clerk", "echo"]) {
      const refused = await apiError(nurse.chat.completions.create({ model, messages: question }));
      expect(refused, model).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect(refused.param).toBe("agent");
    }
    expect(await apiError(nurse.completions.create({ model: "clerk", prompt: "hi" }))).toBeInstanceOf(OpenAI.PermissionDeniedError);
    const client = await WsTestClient.connect(node.wsUrl, { token: await token("nina", "nurse") });
    try {
      // The WebSocket gateway's default agent (the clerk) is refused like a named one.
      const defaulted = await client.chat("d1", "hello");
      expect(defaulted.end).toMatchObject({ type: "error", code: "forbidden", param: "agent" });
      expect(String(defaulted.end.message)).toContain('"clerk"');
    } finally {
      client.close();
    }
  });
});

describe("agents config", () => {
  it("refuses an agent named default, duplicate names and aliases, and unknown keys, naming the key path", () => {
    const issues = (agents: unknown) => {
      const result = configSchema.safeParse({ agents });
      return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    };
    expect(issues([{ name: "default" }])[0]).toMatch(/^agents\.0\.name: .*"default"/);
    expect(issues([{ name: "triage" }, { name: "clerk", model_aliases: ["triage"] }])).toEqual(['agents.1.model_aliases.0: "triage" is already a name of agent "triage"']);
    expect(issues([{ name: "a b" }])[0]).toMatch(/^agents\.0\.name: /);
    expect(issues([{ name: "triage", temperature: 0.2 }])[0]).toMatch(/^agents\.0: /);
    expect(issues([{ name: "triage", params: { temperature: 3 } }])[0]).toMatch(/^agents\.0\.params\.temperature: /);
    expect(issues([{ name: "triage", tools: ["free_beds"], knowledge: { collections: [] }, params: { top_p: 0.5 } }])).toEqual([]);
    // Every gateway type takes a default agent.
    const gateways = [{ type: "websocket", agent: "a" }, { type: "http", agent: "a" }, { type: "mqtt", broker: "tcp://127.0.0.1:1883", agent: "a" }, { type: "custom", protocol: "x", agent: "a" }];
    expect(configSchema.safeParse({ gateways }).success).toBe(true);
  });

  it("stops the start on a gateway agent no agent has, and on gateways of one type giving different defaults", async () => {
    const unknown = startNode({ agents: [{ name: "triage" }] }, { http: { agent: "surgeon" } });
    await expect(unknown).rejects.toBeInstanceOf(ConfigError);
    await expect(unknown).rejects.toThrow(/^gateways\[1\]\.agent: There is no agent named "surgeon"; this node serves "default", "triage"\.$/);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-agents-test-"));
    const config = configSchema.parse({
      agent: { engine: "echo", data_dir: dataDir },
      agents: [{ name: "triage" }],
      gateways: [
        { type: "http", port: 0, agent: "triage" },
        { type: "http", port: 0 },
      ],
      metrics: { port: 0 },
    });
    const conflicting = createDaemon({ config, baseDir: dataDir, logger: silentLogger });
    await expect(conflicting).rejects.toThrow(/^gateways\[1\]\.agent: the http gateways must give the same default agent/);
    // A stopped start leaves nothing behind: the data directory can serve a node again at once.
    const again = await startNode({ agents: [{ name: "triage" }] }, { http: { agent: "triage" }, dataDir });
    await again.daemon.close();
  });

  it("gives a custom adapter's entry a default agent too (the adapter's own options never see the key)", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-agents-test-"));
    const config = configSchema.parse({
      agent: { engine: "echo", data_dir: dataDir },
      agents: [{ name: "clerk" }],
      gateways: [{ type: "custom", protocol: "tcp-ndjson", path: path.resolve("examples/gateways/tcp-ndjson.ts"), port: 0, agent: "clerk" }],
      metrics: { port: 0 },
    });
    const daemon = await createDaemon({ config, baseDir: dataDir, logger: silentLogger });
    try {
      expect(daemon.pipeline.agents.resolve(undefined, "tcp-ndjson").name).toBe("clerk");
      expect(daemon.pipeline.agents.resolve(undefined, "websocket").name).toBe("default");
    } finally {
      await daemon.close();
    }
  });

  it("stops the start on an agent model_path that is neither a file nor a cached model", async () => {
    const start = startNode({ agents: [{ name: "triage" }, { name: "coder", model_path: "./no-such-model.gguf" }] });
    await expect(start).rejects.toBeInstanceOf(ConfigError);
    await expect(start).rejects.toThrow(/^agents\[1\]\.model_path: Model "\.\/no-such-model\.gguf": no such file/);
  });
});

describe("an agent with its own model_path (llama engine, test model)", () => {
  let node: AgentsNode;

  beforeAll(async () => {
    const model = await testModelPath();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-agents-llama-"));
    // The same test model under another name, relative to the config file: the agent's engine names its own model.
    fs.copyFileSync(model, path.join(dataDir, "storyteller-model.gguf"));
    node = await startNode(
      {
        agent: { engine: "llama", max_tokens: 8, parallel: 1, context_size: 256 },
        agents: [
          { name: "storyteller", model_path: "./storyteller-model.gguf", params: { max_tokens: 6 } },
          { name: "sharer", system_prompt: "Once upon a time" },
        ],
      },
      { modelPath: model, dataDir },
    );
  }, 120_000);
  afterAll(async () => node?.daemon.close());

  it("gives it an engine of its own, loaded at start, while other agents share the node's", () => {
    const { agents } = node.daemon.pipeline;
    const storyteller = agents.resolve("storyteller", "http");
    expect(storyteller.engine).not.toBe(node.daemon.engine);
    expect(storyteller.engine.info).toMatchObject({ engine: "llama", model: "storyteller-model" });
    expect((storyteller.engine as { ready?: boolean }).ready).toBe(true);
    expect(agents.resolve("sharer", "http").engine).toBe(node.daemon.engine);
    expect(node.daemon.engine.info.model).toBe("stories260K");
  });

  it("answers the OpenAI model naming it with its own model, and lists it on /v1/models", async () => {
    const client = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await token("alice", "user"), maxRetries: 0 });
    expect((await client.models.list()).data.map((model) => model.id)).toEqual(["stories260K", "storyteller", "sharer"]);
    const before = node.accepted.length;
    const answer = await client.chat.completions.create({ model: "storyteller", messages: [{ role: "user", content: "Tell a story." }] });
    expect(answer.choices[0]?.finish_reason).toBe("length");
    expect(answer.usage?.completion_tokens).toBe(6);
    expect(node.accepted.slice(before).map((start) => start.model)).toEqual(["storyteller-model"]);
    const shared = await client.chat.completions.create({ model: "sharer", messages: [{ role: "user", content: "Tell a story." }] });
    expect(shared.usage?.completion_tokens).toBeLessThanOrEqual(8);
    expect(node.accepted.slice(before + 1).map((start) => start.model)).toEqual(["stories260K"]);
  });
});
