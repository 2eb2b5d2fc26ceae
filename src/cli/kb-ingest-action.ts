// `clawbot kb ingest`: reads files into a collection with a progress bar, then prints what was done (exit 1 when a file failed).
import { ingest, embedMissing, type IngestReport } from "../knowledge/ingest.js";
import type { FormatChoice } from "../knowledge/ingest-files.js";
import { kbContext, openKb, openKbEmbedder, type KbCommonOptions } from "./kb-context.js";
import { ingestProgressView } from "./kb-progress.js";
import { syncVectorIndexReport } from "./kb-vector-index.js";
import { publishKbChanges } from "./kb-cluster.js";
import type { KnowledgeChange } from "../knowledge/apply-documents.js";

export interface KbIngestOptions extends KbCommonOptions {
  collection: string;
  format: string;
  idField: string;
  textField: string;
  metaFields: string;
  deleteMissing?: boolean;
  verbose?: boolean;
}

const formats: readonly FormatChoice[] = ["auto", "txt", "md", "jsonl", "csv"];

export async function runKbIngest(paths: string[], options: KbIngestOptions): Promise<number> {
  if (!formats.includes(options.format as FormatChoice)) throw new Error(`--format must be one of ${formats.join(", ")}, not ${JSON.stringify(options.format)}`);
  const collection = options.collection.trim();
  if (collection === "" || collection.length > 128) throw new Error("--collection must be a name of 1 to 128 characters");
  const { findIngestFiles } = await import("../knowledge/ingest-files.js");
  // A missing path fails before the knowledge base is created.
  findIngestFiles(paths, options.format as FormatChoice);
  const context = await kbContext(options);
  const database = openKb(context, { create: true });
  try {
    const embedder = await openKbEmbedder(context);
    try {
      const view = ingestProgressView();
      let report: IngestReport;
      const changes: KnowledgeChange[] = [];
      try {
        report = await ingest(database, paths, {
          collection,
          format: options.format as FormatChoice,
          fields: {
            idField: options.idField,
            textField: options.textField,
            metaFields: options.metaFields.split(",").map((field) => field.trim()).filter((field) => field !== ""),
          },
          chunk: { maxTokens: context.knowledge.chunk.max_tokens, overlapTokens: context.knowledge.chunk.overlap_tokens },
          embedder,
          deleteMissing: options.deleteMissing ?? false,
          onProgress: (progress) => view.update(progress),
          ...(context.cluster ? { onChange: (change: KnowledgeChange) => void changes.push(change) } : {}),
        });
        // Chunks written earlier without a model (or by an interrupted run) get their vectors too.
        if (embedder) report.vectors += await embedMissing(database, embedder);
      } finally {
        view.stop();
      }
      // With vectors (now or from earlier runs), the HNSW index catches up; a BM25-only knowledge base has none.
      const index = database.embedding() ? syncVectorIndexReport(database) : undefined;
      // After the local write: every node of the cluster applies it to its own knowledge base.
      const published = await publishKbChanges(context, changes);
      const mode = embedder ? `hybrid (vectors of ${embedder.id}, ${embedder.dimensions} dimensions)` : "BM25 only (no knowledge.embedding_model_path)";
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ database: context.databaseFile, collection, mode: embedder ? "hybrid" : "bm25", ...report, ...(index ? { vector_index: index.sync } : {}), ...(context.cluster ? { cluster: context.cluster.config.name } : {}) })}\n`);
      } else {
        process.stdout.write(summary(report, collection, context.databaseFile, mode, options.verbose ?? false) + (index?.line ?? "") + published);
      }
      return report.files.failed.length > 0 ? 1 : 0;
    } finally {
      await embedder?.close();
    }
  } finally {
    database.close();
  }
}

function summary(report: IngestReport, collection: string, databaseFile: string, mode: string, verbose: boolean): string {
  const { files, documents } = report;
  const lines = [
    `Ingested into collection "${collection}" of ${databaseFile} in ${report.seconds.toFixed(1)} s; search: ${mode}.`,
    `  files:     ${files.ingested} ingested, ${files.unchanged} unchanged, ${files.failed.length} failed, ${files.skipped} skipped`,
    `  documents: ${documents.added} added, ${documents.updated} updated, ${documents.unchanged} unchanged, ${documents.deleted} deleted`,
    `  chunks:    ${report.chunks} written, ${report.vectors} vectors`,
  ];
  if (files.skipped > 0) {
    lines.push(verbose ? `Skipped (no reader for the extension):${files.skippedFiles.map((file) => `\n  ${file}`).join("")}` : "  (--verbose names the files skipped)");
  }
  if (files.failed.length > 0) {
    lines.push(`Failed (not recorded; fix them and run again):`);
    for (const failure of files.failed) lines.push(`  ${failure.error}`);
  }
  return `${lines.join("\n")}\n`;
}
