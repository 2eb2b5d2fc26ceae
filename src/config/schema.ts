// The one configuration schema: every key, every default; the TypeScript types are inferred from it.
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { clusterSchema } from "./cluster-schema.js";
import { agentsSchema } from "./agents-schema.js";
import { gatewaySchema } from "./gateway-schema.js";
import { toolsSchema } from "./tools-schema.js";

export * from "./gateway-schema.js";
export * from "./tools-schema.js";

export const defaultThreads = (): number => Math.max(1, os.availableParallelism() - 1);

/** A LoRA adapter file and the scale its delta is applied with (0: loaded, no effect). */
const loraAdapterSchema = z.strictObject({
  path: z.string().min(1),
  scale: z.number().finite().default(1),
  /** What a request's `params.adapter` calls it; by default the file name without `.gguf`. */
  name: z.string().min(1).optional(),
});

export const agentSchema = z.strictObject({
  /** GGUF file; when absent the default model is downloaded once into the model cache. */
  model_path: z.string().min(1).optional(),
  /** Other names the OpenAI API accepts for the served model (for clients that hard-code one, e.g. "gpt-4o-mini"). */
  model_aliases: z.array(z.string().min(1).max(256)).default([]),
  max_tokens: z.number().int().positive().default(512),
  temperature: z.number().min(0).max(2).default(0.7),
  top_p: z.number().gt(0).max(1).optional(),
  system_prompt: z.string().default(""),
  /** Tokens per sequence; by default the model's training context, at most 4096. */
  context_size: z.number().int().min(64).optional(),
  /** Concurrent sequences decoded in one batch. */
  parallel: z.number().int().min(1).max(64).default(4),
  /** CPU threads for llama.cpp; cores − 1 by default (a 2-core box runs >15× slower with 2). */
  threads: z.number().int().min(1).default(defaultThreads),
  /** Requests waiting for a free sequence before new ones are refused with `overloaded`. */
  max_queue: z.number().int().min(0).default(64),
  /**
   * Compute backend: `auto` uses a GPU backend that works (else the CPU, with a warning when a GPU was detected);
   * false forces the CPU; `cuda`, `vulkan` or `metal` must work or the start fails.
   */
  gpu: z.union([z.literal("auto"), z.literal(false), z.enum(["cuda", "vulkan", "metal"])]).default("auto"),
  /** Model layers offloaded to the GPU: `auto` as many as fit in free VRAM, `max` all (fails if they do not fit), or a count. */
  gpu_layers: z.union([z.enum(["auto", "max"]), z.number().int().min(0)]).default("auto"),
  /** LoRA adapters (GGUF) applied at load to every request; paths relative to the config file. */
  lora: z.array(loraAdapterSchema).default([]).superRefine((adapters, context) => {
    const names = adapters.map((adapter) => adapter.name ?? path.basename(adapter.path).replace(/\.gguf$/i, ""));
    names.forEach((name, index) => {
      if (names.indexOf(name) !== index) context.addIssue({ code: "custom", path: [index, "name"], message: `duplicate adapter name "${name}"` });
    });
  }),
  /**
   * Keep each sequence's evaluated tokens between requests and hand a request the sequence that already holds
   * most of its prompt (system prompt, conversation so far), so only new tokens are evaluated.
   */
  context_reuse: z.boolean().default(true),
  /**
   * llama.cpp's flash attention: `auto` is off on the CPU (measured slower there at long contexts) and llama.cpp's
   * own choice on a GPU; true or false forces it.
   */
  flash_attention: z.union([z.literal("auto"), z.boolean()]).default("auto"),
  /**
   * At shutdown, save the evaluated state of each conversation a sequence holds under data_dir/sequence-states,
   * and load it when that conversation resumes, so its history is not read again after a restart.
   */
  persist_state: z.boolean().default(false),
  /** Disk budget for saved states in MiB; the oldest are deleted first. */
  persist_state_max_mb: z.number().positive().default(1024),
  engine: z.enum(["llama", "echo"]).default("llama"),
  /** Where sessions and state live; relative to the config file. */
  data_dir: z.string().min(1).optional(),
});

/** A plugin from a file (TypeScript or JavaScript, loaded at run time) or a built-in one, with its options. */
export const pluginEntrySchema = z.union([
  z.strictObject({ path: z.string().min(1), options: z.record(z.unknown()).default({}) }),
  z.strictObject({ builtin: z.string().min(1), options: z.record(z.unknown()).default({}) }),
]);

/** Per-subject fairness: one user cannot take every sequence or fill the admission queue for everyone. */
export const limitsSchema = z.strictObject({
  /** Requests one subject may have running or queued at once, over all gateways; more get `overloaded`. */
  max_requests_per_subject: z.number().int().positive().default(16),
  /** Share of `agent.max_queue` one subject's queued requests may take (0–1]; more get `overloaded` (for that subject only). */
  queue_share_per_subject: z.number().gt(0).max(1).default(0.5),
});

/** How much conversation history is kept. */
export const sessionsSchema = z.strictObject({
  /** Stored messages (questions and answers) per session; the oldest are deleted beyond it. */
  max_turns: z.number().int().positive().default(1000),
  /** Days a session is kept after its last message; expired sessions are deleted by a periodic job (0: forever). */
  retention_days: z.number().min(0).default(90),
});

/** The Prometheus endpoint: its own listener, so it can stay on loopback (or behind a token) while gateways face clients. */
export const metricsSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** 9090 is what the seed's Prometheus job scrapes; Prometheus itself listens on 9090 by default (move one of them). */
  port: z.number().int().min(0).max(65535).default(9090),
  host: z.string().default("127.0.0.1"),
  path: z.string().startsWith("/").default("/metrics"),
  /** When set, scrapes must send `Authorization: Bearer <token>` (Prometheus: `authorization: {credentials: …}`). */
  token: z.string().min(16).optional(),
});

const auditSinkKeys = {
  /** Names the sink's durable cursor; by default its type and destination. Renaming a sink ships its backlog again. */
  name: z.string().min(1).max(128).optional(),
};

/** Where audit records are shipped, each with its own durable cursor: a sink that is down catches up when it is back. */
export const auditSinkSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("file"),
    ...auditSinkKeys,
    /** JSONL file, one record per line; relative to the config file. */
    path: z.string().min(1),
    /** Bytes after which the file is rotated (audit.jsonl → audit.jsonl.1 …). */
    max_bytes: z.number().int().positive().default(100 * 1024 * 1024),
    /** Rotated files kept; older ones are deleted. */
    max_files: z.number().int().min(1).default(10),
  }),
  z.strictObject({
    type: z.literal("syslog"),
    ...auditSinkKeys,
    /** tcp://host:port (RFC 6587 octet counting) or tls://host:port (RFC 5425). */
    url: z.string().regex(/^(tcp|tls):\/\/[^/]+:\d+\/?$/, "expected tcp://host:port or tls://host:port"),
    app_name: z.string().min(1).max(48).default("clawbot"),
    /** Syslog facility number (13: log audit). */
    facility: z.number().int().min(0).max(23).default(13),
    /** PEM files for tls://: the CA that signed the receiver's certificate, and a client certificate and key when it asks for one. */
    ca: z.string().optional(),
    cert: z.string().optional(),
    key: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal("http"),
    ...auditSinkKeys,
    url: z.string().regex(/^https?:\/\//, "expected an http:// or https:// URL"),
    headers: z.record(z.string()).default({}),
    /** Records per POST. */
    batch_size: z.number().int().min(1).max(10_000).default(100),
    /** Seconds a POST may take before it counts as failed (and is retried). */
    timeout: z.number().positive().default(10),
    ca: z.string().optional(),
  }),
]);

/** The tamper-evident audit ledger (SM3 hash chain in the node's database) and where it is shipped. */
export const auditSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** What a record keeps of the texts: `full` (as received and generated), `redacted` (after the plugins ran), `hash` (SM3 digests only). */
  content: z.enum(["full", "redacted", "hash"]).default("redacted"),
  /** Seconds between checkpoints (sequence and head hash) written to the log and the sinks. */
  checkpoint_interval: z.number().positive().default(300),
  sinks: z.array(auditSinkSchema).default([]),
});

/**
 * Staged rollout of one gateway: `internal` lets in only `allow_roles`; `limited` also a stable `percent` share of the
 * other subjects (by SM3 of the subject); `all` everyone (that the policy allows).
 */
export const rolloutSchema = z
  .strictObject({
    stage: z.enum(["internal", "limited", "all"]),
    /** Roles always let in (the internal users). */
    allow_roles: z.array(z.string().min(1)).default([]),
    /** At stage `limited`: the share (0–100) of other subjects let in, picked stably by hash; ignored at other stages. */
    percent: z.number().min(0).max(100).default(0),
  })
  .refine((rollout) => rollout.stage !== "internal" || rollout.allow_roles.length > 0, {
    message: "stage internal needs allow_roles (else nobody gets in)",
    path: ["allow_roles"],
  });

/** Dynamic permissions (docs/security.md#permissions): without `policy_file` every verified caller may do everything. */
export const securitySchema = z.strictObject({
  /** YAML file of roles → what they may do; watched and re-applied without restart. Relative to the config file. */
  policy_file: z.string().min(1).optional(),
  /** JWT claims that give a subject its roles (a string or a list of strings each; dotted paths reach nested claims). */
  role_claims: z.array(z.string().min(1)).nonempty().default(["role", "roles", "groups"]),
  /** Staged rollout per gateway type (websocket, http, mqtt, a custom protocol); a policy file's `rollout` overrides it per gateway. */
  rollout: z.record(z.string().min(1), rolloutSchema).default({}),
});

/** Green-list watermarking of answers (Kirchenbauer et al. 2023; docs/security.md "Watermarking"). */
export const watermarkSchema = z
  .strictObject({
    /** Watermark every answer; off, the policy can still turn it on per role (it needs `key`). */
    enabled: z.boolean().default(false),
    /** The secret the green lists derive from (HMAC-SM3); anyone holding it can detect and forge. Use `${ENV}`. */
    key: z.string().min(16, "watermark.key must be at least 16 characters (a random secret; use ${ENV})").optional(),
    /** Share of the vocabulary in each green list. */
    gamma: z.number().gt(0).lt(1).default(0.25),
    /** Added to the green tokens' logits before sampling: higher is easier to detect and changes the text more. */
    delta: z.number().gt(0).max(20).default(2.0),
  })
  .refine((watermark) => !watermark.enabled || watermark.key !== undefined, {
    message: "watermark.enabled needs watermark.key (a secret of at least 16 characters)",
    path: ["key"],
  });

/** The local knowledge base (docs/knowledge.md): documents ingested with `clawbot kb ingest`, searched on every chat turn. */
export const knowledgeSchema = z.strictObject({
  /** Put the top chunks of the knowledge base into each chat turn (and carry their citations in the finish). */
  enabled: z.boolean().default(false),
  /** The knowledge base's SQLite file (relative to the config file); default `<data_dir>/knowledge.db`. */
  database: z.string().min(1).optional(),
  /**
   * A GGUF embedding model (relative to the config file): chunks get vectors and search is hybrid (BM25 and vectors,
   * fused). Without it (and without `embed_with_engine`) search is BM25 only, and the start says so.
   */
  embedding_model_path: z.string().min(1).optional(),
  /** Use the chat engine's own `embed()` for vectors instead of a separate model (the echo engine's vectors in tests). */
  embed_with_engine: z.boolean().default(false),
  /** Chunks put into a turn, at most (fewer when they do not fit `max_prompt_tokens`). */
  top_k: z.number().int().min(1).max(50).default(5),
  /** Tokens the retrieved chunks may take in a prompt, source tags included; lowered to what the context has left. */
  max_prompt_tokens: z.number().int().positive().default(1024),
  /** Collections a chat turn searches when the request names none; undefined: every collection (the policy may narrow it). */
  collections: z.array(z.string().min(1).max(128)).min(1).optional(),
  /** Reciprocal rank fusion of the BM25 and vector rankings: score = Σ weight / (rrf_k + rank). */
  fusion: z
    .strictObject({
      bm25_weight: z.number().min(0).default(1),
      vector_weight: z.number().min(0).default(1),
      rrf_k: z.number().positive().default(60),
    })
    .default({}),
  /** How documents are cut into chunks at ingest (tokens of the embedding model, else estimated). */
  chunk: z
    .strictObject({
      max_tokens: z.number().int().min(16).max(8192).default(256),
      overlap_tokens: z.number().int().min(0).default(32),
    })
    .refine((chunk) => chunk.overlap_tokens < chunk.max_tokens / 2, { message: "knowledge.chunk.overlap_tokens must be less than half of max_tokens" })
    .default({}),
  /** Extra words for Chinese segmentation, one per line (`word [frequency] [tag]`, jieba's format); built-in domain words are always loaded. */
  user_dictionary: z.string().min(1).optional(),
});

export const configSchema = z.strictObject({
  agent: agentSchema.default({}),
  /** More agents on this node (docs/configuration.md#agents), each the `agent` section with its own overrides; `agent` is "default". */
  agents: agentsSchema,
  /** Run in this order on every request: preProcess first to last, postProcess likewise. */
  plugins: z.array(pluginEntrySchema).default([]),
  /** Seconds each plugin hook may take before the request fails with plugin_error. */
  plugin_timeout: z.number().positive().default(2),
  gateways: z.array(gatewaySchema).default([{ type: "websocket" }]),
  limits: limitsSchema.default({}),
  sessions: sessionsSchema.default({}),
  /** Seconds in-flight answers may keep running after SIGINT/SIGTERM before they are cancelled. */
  shutdown_grace: z.number().min(0).default(10),
  log_level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  /** This node's name in audit records, logs and (later) the cluster; the host name by default. */
  node_id: z.string().min(1).max(128).default(() => os.hostname()),
  metrics: metricsSchema.default({}),
  audit: auditSchema.default({}),
  watermark: watermarkSchema.default({}),
  security: securitySchema.default({}),
  knowledge: knowledgeSchema.default({}),
  tools: toolsSchema.default({}),
  /** Several nodes on NATS JetStream (docs/cluster.md); absent: the node runs alone. */
  cluster: clusterSchema.optional(),
});

export type ClawbotConfig = z.infer<typeof configSchema>;
export type AgentConfig = z.infer<typeof agentSchema>;
export type PluginEntry = z.infer<typeof pluginEntrySchema>;
export type LimitsConfig = z.infer<typeof limitsSchema>;
export type SessionsConfig = z.infer<typeof sessionsSchema>;
export type MetricsConfig = z.infer<typeof metricsSchema>;
export type AuditConfig = z.infer<typeof auditSchema>;
export type AuditSinkConfig = z.infer<typeof auditSinkSchema>;
export type WatermarkConfig = z.infer<typeof watermarkSchema>;
export type SecurityConfig = z.infer<typeof securitySchema>;
export type RolloutConfig = z.infer<typeof rolloutSchema>;
export type KnowledgeConfig = z.infer<typeof knowledgeSchema>;
