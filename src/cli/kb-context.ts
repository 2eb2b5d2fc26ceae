// What every `clawbot kb` subcommand needs: the config's knowledge section, the knowledge base file, the embedder.
import fs from "node:fs";
import path from "node:path";
import type { KnowledgeConfig } from "../config/schema.js";
import type { ClusterConfig } from "../config/cluster-schema.js";
import { KnowledgeDatabase } from "../knowledge/knowledge-database.js";
import type { KnowledgeEmbedder } from "../knowledge/knowledge-types.js";
import { TextSegmenter } from "../knowledge/text-segmenter.js";
import { dataDirectory, type DataDirectoryOptions } from "./data-directory.js";

export interface KbCommonOptions extends DataDirectoryOptions {
  json?: boolean;
}

export interface KbContext {
  knowledge: KnowledgeConfig;
  /** The knowledge base file: knowledge.database (relative to the config file), else `<data_dir>/knowledge.db`. */
  databaseFile: string;
  /** knowledge.embedding_model_path resolved against the config file; undefined without one. */
  embeddingModelPath: string | undefined;
  /** knowledge.user_dictionary resolved against the config file. */
  userDictionary: string | undefined;
  /** agent.threads: CPU threads for the embedding model. */
  threads: number;
  /** The config's `cluster` section and this node's id in it: `kb ingest`/`kb delete` publish their changes to it. */
  cluster?: { config: ClusterConfig; nodeId: string };
}

/** Loads the config (-c, else ./clawbot.yaml when present, else the defaults) and resolves the knowledge base's paths. */
export async function kbContext(options: KbCommonOptions): Promise<KbContext> {
  const { loadConfig } = await import("../config/load.js");
  const configPath = options.config ?? (fs.existsSync("clawbot.yaml") ? "clawbot.yaml" : undefined);
  const loaded = loadConfig({ configPath });
  const { knowledge, agent, cluster } = loaded.config;
  const databaseFile = knowledge.database ? path.resolve(loaded.baseDir, knowledge.database) : path.join(await dataDirectory(options), "knowledge.db");
  return {
    knowledge,
    databaseFile,
    embeddingModelPath: knowledge.embedding_model_path ? path.resolve(loaded.baseDir, knowledge.embedding_model_path) : undefined,
    userDictionary: knowledge.user_dictionary ? path.resolve(loaded.baseDir, knowledge.user_dictionary) : undefined,
    threads: agent.threads,
    ...(cluster ? { cluster: { config: cluster, nodeId: (await import("../cluster/cluster-node.js")).clusterNodeId(cluster, loaded.config.node_id) } } : {}),
  };
}

/** Opens the knowledge base: created when `create`, else it must exist (a clear error names the file and the fix). */
export function openKb(context: KbContext, mode: { create?: boolean; readonly?: boolean }): KnowledgeDatabase {
  if (!mode.create && !fs.existsSync(context.databaseFile)) {
    throw new Error(`there is no knowledge base at ${context.databaseFile}: create it with \`clawbot kb ingest <file-or-dir>…\``);
  }
  const segmenter = TextSegmenter.create(context.userDictionary ? { userDictionary: context.userDictionary } : {});
  return KnowledgeDatabase.open(context.databaseFile, { segmenter, readonly: mode.readonly ?? false });
}

/** The embedding model of knowledge.embedding_model_path, loaded; undefined without one (BM25 only). */
export async function openKbEmbedder(context: KbContext): Promise<KnowledgeEmbedder | undefined> {
  if (!context.embeddingModelPath) return undefined;
  if (!fs.existsSync(context.embeddingModelPath)) throw new Error(`knowledge.embedding_model_path: ${context.embeddingModelPath} does not exist`);
  const { openModelEmbedder } = await import("../knowledge/knowledge-embedder.js");
  const { createLogger } = await import("../logging/logger.js");
  return openModelEmbedder(context.embeddingModelPath, { threads: context.threads, logger: createLogger("warn") });
}
