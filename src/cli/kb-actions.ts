// `clawbot kb search|stats|delete|embed`: query, size, prune and embed the knowledge base.
import type { KnowledgeDatabase } from "../knowledge/knowledge-database.js";
import type { KnowledgeEmbedder } from "../knowledge/knowledge-types.js";
import { kbContext, openKb, openKbEmbedder, type KbCommonOptions } from "./kb-context.js";
import { embedProgressView } from "./kb-progress.js";
import { formatBytes } from "./progress-bar.js";
import { syncVectorIndexReport } from "./kb-vector-index.js";
import { publishKbChanges } from "./kb-cluster.js";

export interface KbSearchOptions extends KbCommonOptions {
  collection?: string[];
  topK: number;
}

export interface KbDeleteOptions extends KbCommonOptions {
  collection?: string;
  doc?: string;
}

export interface KbEmbedOptions extends KbCommonOptions {
  reset?: boolean;
}

/** Characters of a chunk's text shown per result (the whole text with --json). */
const shownText = 400;

export async function runKbSearch(query: string, options: KbSearchOptions): Promise<number> {
  if (query.trim() === "") throw new Error("the query is empty");
  const context = await kbContext(options);
  const database = openKb(context, { readonly: true });
  let embedder: KnowledgeEmbedder | undefined;
  try {
    const collections = options.collection && options.collection.length > 0 ? options.collection : undefined;
    if (collections) requireCollections(database, collections);
    // Hybrid only when a model is configured and the stored vectors are there to compare with.
    if (context.embeddingModelPath && database.embedding()) embedder = await openKbEmbedder(context);
    const { KnowledgeSearch } = await import("../knowledge/knowledge-search.js");
    const { VectorIndex } = await import("../knowledge/vector-index.js");
    const vectorIndex = embedder ? new VectorIndex(database) : undefined;
    const search = new KnowledgeSearch(database, { embedder, fusion: context.knowledge.fusion, ...(vectorIndex ? { vectorIndex } : {}) });
    const results = await search.search({ text: query, collections: collections ?? "*", topK: options.topK });
    if (options.json) {
      const output = {
        query,
        mode: search.mode,
        collections: collections ?? "*",
        results: results.map((result, index) => ({
          rank: index + 1,
          score: result.score,
          collection: result.collection,
          doc_id: result.docId,
          source: result.source,
          chunk: result.chunk,
          text: result.text,
          metadata: result.metadata,
        })),
      };
      process.stdout.write(`${JSON.stringify(output)}\n`);
      return 0;
    }
    if (results.length === 0) {
      process.stdout.write(`No matches (${search.mode}).\n`);
      return 0;
    }
    const lines = [`${results.length} result${results.length === 1 ? "" : "s"} (${search.mode}):`];
    results.forEach((result, index) => {
      const metadata = Object.entries(result.metadata).map(([key, value]) => `${key}=${value}`).join(" ");
      lines.push(`${index + 1}. score ${result.score.toFixed(4)}  [${result.collection}] ${result.docId}  ${result.source}#${result.chunk}${metadata ? `  ${metadata}` : ""}`);
      const text = result.text.replace(/\s+/g, " ").trim();
      lines.push(`   ${text.length > shownText ? `${text.slice(0, shownText)}…` : text}`);
    });
    process.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  } finally {
    await embedder?.close();
    database.close();
  }
}

export async function runKbStats(options: KbCommonOptions): Promise<number> {
  const context = await kbContext(options);
  const database = openKb(context, { readonly: true });
  try {
    const stats = database.stats();
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ database: context.databaseFile, ...stats })}\n`);
      return 0;
    }
    const rows = [["collection", "documents", "chunks", "vectors"], ...stats.collections.map((row) => [row.name, row.documents, row.chunks, row.vectors].map(String))];
    rows.push(["(total)", String(stats.documents), String(stats.chunks), String(stats.vectors)]);
    const widths = rows[0]!.map((_cell, column) => Math.max(...rows.map((row) => row[column]!.length)));
    const table = rows.map((row) => `  ${row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ")}`);
    const embedding = stats.embedding ? `${stats.embedding.model} (${stats.embedding.dimensions} dimensions)` : "none: search is BM25 only";
    process.stdout.write(`Knowledge base ${context.databaseFile} (${formatBytes(stats.bytes)})\n${table.join("\n")}\nEmbedding: ${embedding}\n`);
    return 0;
  } finally {
    database.close();
  }
}

export async function runKbDelete(options: KbDeleteOptions): Promise<number> {
  if (options.doc === undefined && options.collection === undefined) throw new Error("say what to delete: --collection NAME, or --doc ID [--collection NAME]");
  const context = await kbContext(options);
  const database = openKb(context, {});
  try {
    if (options.collection !== undefined) requireCollections(database, [options.collection]);
    let result: { documents: number; chunks?: number };
    if (options.doc !== undefined) {
      const documents = database.deleteDocument(options.doc, options.collection);
      if (documents === 0) throw new Error(`no document ${JSON.stringify(options.doc)}${options.collection !== undefined ? ` in collection "${options.collection}"` : ""}`);
      result = { documents };
    } else {
      result = database.deleteCollection(options.collection as string);
    }
    const index = syncVectorIndexReport(database);
    const published = await publishKbChanges(
      context,
      options.doc !== undefined ? [{ kind: "delete_documents", collection: options.collection, docIds: [options.doc] }] : [{ kind: "delete_collection", collection: options.collection as string }],
    );
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ database: context.databaseFile, collection: options.collection ?? null, doc: options.doc ?? null, deleted: result, vector_index: index.sync })}\n`);
    } else {
      const what = options.doc !== undefined ? `document ${JSON.stringify(options.doc)}` : `collection "${options.collection}"`;
      const chunks = result.chunks !== undefined ? ` and ${result.chunks} chunks` : "";
      process.stdout.write(`Deleted ${what}: ${result.documents} document${result.documents === 1 ? "" : "s"}${chunks}.\n${index.line}${published}`);
    }
    return 0;
  } finally {
    database.close();
  }
}

export async function runKbEmbed(options: KbEmbedOptions): Promise<number> {
  const context = await kbContext(options);
  if (!context.embeddingModelPath) throw new Error("knowledge.embedding_model_path is not set: there is no model to compute vectors with");
  const database = openKb(context, {});
  try {
    const embedder = (await openKbEmbedder(context)) as KnowledgeEmbedder;
    try {
      if (options.reset) database.resetEmbedding();
      const before = database.stats();
      const view = embedProgressView();
      const { embedMissing } = await import("../knowledge/ingest.js");
      let vectors: number;
      try {
        vectors = await embedMissing(database, embedder, { total: before.chunks - before.vectors, onProgress: (progress) => view.update(progress) });
      } finally {
        view.stop();
      }
      const index = syncVectorIndexReport(database);
      if (options.json) {
        process.stdout.write(
          `${JSON.stringify({ database: context.databaseFile, model: embedder.id, dimensions: embedder.dimensions, vectors, reset: options.reset ?? false, vector_index: index.sync })}\n`,
        );
      } else {
        process.stdout.write(`Computed ${vectors} vectors with ${embedder.id} (${embedder.dimensions} dimensions) into ${context.databaseFile}.\n${index.line}`);
      }
      return 0;
    } finally {
      await embedder.close();
    }
  } finally {
    database.close();
  }
}

/** Throws naming the collections that do not exist, and the ones that do. */
function requireCollections(database: KnowledgeDatabase, names: readonly string[]): void {
  const known = new Set(database.collections());
  const unknown = names.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    const list = known.size > 0 ? [...known].join(", ") : "none yet";
    throw new Error(`no collection ${unknown.map((name) => `"${name}"`).join(", ")} in ${database.file} (collections: ${list})`);
  }
}
