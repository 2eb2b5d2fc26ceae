// Ingests files into the knowledge base: streamed, in batches of documents (one transaction each), skipping what is unchanged.
import fs from "node:fs";
import { chunkText } from "./chunker.js";
import { hashDocument, hashFile, sm3 } from "./content-hash.js";
import { DocumentError, readDocuments, type DocumentFile } from "./document-readers.js";
import { findIngestFiles, type FormatChoice } from "./ingest-files.js";
import type { KnowledgeDatabase } from "./knowledge-database.js";
import type { DocumentWrite, KnowledgeEmbedder } from "./knowledge-types.js";
import type { ChangedDocument, KnowledgeChange } from "./apply-documents.js";
import { defaultRecordFields, type RecordFields } from "./record-document.js";

export interface IngestOptions {
  collection: string;
  format?: FormatChoice;
  fields?: RecordFields;
  /** `knowledge.chunk`: chunks are also kept within the embedder's `maxTokens`. */
  chunk: { maxTokens: number; overlapTokens: number };
  /** Chunks get vectors from it (after `useEmbedding`); without one, BM25 only. */
  embedder?: KnowledgeEmbedder;
  /** `--delete-missing`: documents of recorded files that no longer exist are deleted. */
  deleteMissing?: boolean;
  /** Documents per transaction (default 128). */
  batchSize?: number;
  onProgress?: (progress: IngestProgress) => void;
  /** Told of each batch of documents written and of the documents deleted, once written (a cluster replicates them). */
  onChange?: (change: KnowledgeChange) => void;
  signal?: AbortSignal;
}

export interface IngestProgress {
  /** The file being read (as given). */
  file: string;
  /** Documents read so far (written or found unchanged), and chunks written. */
  documents: number;
  chunks: number;
  bytesRead: number;
  totalBytes: number;
  /** Documents per second so far. */
  rate: number;
  /** Seconds left at the byte rate so far; undefined before it is known. */
  etaSeconds: number | undefined;
}

export interface IngestReport {
  files: {
    /** Files read and recorded whole. */
    ingested: number;
    /** Files whose content hash was unchanged: not read again. */
    unchanged: number;
    /** Files that could not be read: reported, not recorded (documents written before the failure stay). */
    failed: { file: string; error: string }[];
    /** Files below the directories with an extension no reader takes. */
    skipped: number;
    skippedFiles: string[];
  };
  documents: { added: number; updated: number; unchanged: number; deleted: number };
  chunks: number;
  vectors: number;
  seconds: number;
}

/**
 * Reads `paths` (files and directories) into `options.collection`. Per file: its SM3 is compared with the recorded one
 * (unchanged: skipped unread); otherwise its documents are read, unchanged documents (same SM3 of text and metadata)
 * skipped, the rest chunked, embedded and written `batchSize` at a time, the documents no longer in the file deleted,
 * and the file recorded. A file that fails to read is reported and the others still ingest; a crash leaves the written
 * batches, and a re-run reads the file again and skips them.
 */
export async function ingest(database: KnowledgeDatabase, paths: readonly string[], options: IngestOptions): Promise<IngestReport> {
  const started = Date.now();
  const { collection, embedder } = options;
  const fields = options.fields ?? defaultRecordFields;
  const batchSize = options.batchSize ?? 128;
  const maxTokens = embedder ? Math.min(options.chunk.maxTokens, embedder.maxTokens) : options.chunk.maxTokens;
  const chunking = { maxTokens, overlapTokens: Math.min(options.chunk.overlapTokens, Math.floor(maxTokens / 2)), countTokens: embedder?.countTokens.bind(embedder) };
  const found = findIngestFiles(paths, options.format ?? "auto");
  if (embedder) database.useEmbedding(embedder.id, embedder.dimensions);

  const report: IngestReport = {
    files: { ingested: 0, unchanged: 0, failed: [], skipped: found.skipped.length, skippedFiles: found.skipped },
    documents: { added: 0, updated: 0, unchanged: 0, deleted: 0 },
    chunks: 0,
    vectors: 0,
    seconds: 0,
  };
  const totalBytes = found.files.reduce((total, file) => total + file.size, 0);
  let bytesBefore = 0;
  let bytesInFile = 0;
  let documentsRead = 0;
  const progress = (file: DocumentFile) => {
    if (!options.onProgress) return;
    const seconds = (Date.now() - started) / 1000;
    const bytesRead = bytesBefore + bytesInFile;
    const byteRate = seconds > 0 ? bytesRead / seconds : 0;
    options.onProgress({
      file: file.source,
      documents: documentsRead,
      chunks: report.chunks,
      bytesRead,
      totalBytes,
      rate: seconds > 0 ? documentsRead / seconds : 0,
      etaSeconds: byteRate > 0 ? Math.max(0, totalBytes - bytesRead) / byteRate : undefined,
    });
  };

  const flush = async (batch: (DocumentWrite & { text: string })[]) => {
    if (batch.length === 0) return;
    if (embedder) {
      const texts = batch.flatMap((document) => document.chunks.map((chunk) => chunk.text));
      const vectors = texts.length > 0 ? await embedder.embed(texts, { signal: options.signal }) : [];
      let next = 0;
      for (const document of batch) {
        document.vectors = vectors.slice(next, next + document.chunks.length);
        next += document.chunks.length;
      }
      report.vectors += vectors.length;
    }
    database.writeDocuments(batch);
    options.onChange?.({
      kind: "documents",
      collection,
      documents: batch.map((document): ChangedDocument => ({ docId: document.docId, source: document.source, file: document.file, text: document.text, metadata: document.metadata })),
    });
    report.chunks += batch.reduce((total, document) => total + document.chunks.length, 0);
  };

  for (const file of found.files) {
    options.signal?.throwIfAborted();
    bytesInFile = 0;
    try {
      const before = database.fileHash(collection, file.path);
      if (before !== undefined && before === (await readHash(file))) {
        report.files.unchanged += 1;
        continue;
      }
      // Unrecorded until the last batch is in: a crash midway makes the re-run read it again.
      if (before !== undefined) database.forgetFile(collection, file.path);
      const stored = database.documentsOfFile(collection, file.path);
      const seen = new Map<string, string>();
      const hash = sm3();
      let batch: (DocumentWrite & { text: string })[] = [];
      const reading = readDocuments(file, {
        fields,
        onData: (bytes) => {
          hash.update(bytes);
          bytesInFile += bytes.length;
        },
      });
      for await (const document of reading) {
        options.signal?.throwIfAborted();
        const first = seen.get(document.docId);
        if (first !== undefined) throw new DocumentError(`${document.source}: the id ${JSON.stringify(document.docId)} was already used at ${first}`);
        seen.set(document.docId, document.source);
        documentsRead += 1;
        const documentHash = hashDocument(document);
        const previous = stored.get(document.docId);
        if (previous === documentHash) {
          report.documents.unchanged += 1;
          continue;
        }
        if (previous === undefined) report.documents.added += 1;
        else report.documents.updated += 1;
        batch.push({ collection, file: file.path, hash: documentHash, ...document, chunks: chunkText(document.text, chunking) });
        if (batch.length >= batchSize) {
          await flush(batch);
          batch = [];
          progress(file);
        }
      }
      await flush(batch);
      database.transaction(() => {
        report.documents.deleted += database.deleteDocumentsOfFile(collection, file.path, new Set(seen.keys()));
        database.recordFile(collection, file.path, hash.digest("hex"));
      });
      const gone = [...stored.keys()].filter((docId) => !seen.has(docId));
      if (gone.length > 0) options.onChange?.({ kind: "delete_documents", collection, docIds: gone });
      report.files.ingested += 1;
    } catch (error) {
      if (!(error instanceof DocumentError)) throw error;
      report.files.failed.push({ file: file.source, error: error.message });
    } finally {
      bytesBefore += file.size;
      bytesInFile = 0;
      progress(file);
    }
  }

  if (options.deleteMissing) {
    for (const recorded of database.files(collection)) {
      if (fs.existsSync(recorded.file)) continue;
      const gone = [...database.documentsOfFile(collection, recorded.file).keys()];
      report.documents.deleted += database.deleteFile(collection, recorded.file);
      if (gone.length > 0) options.onChange?.({ kind: "delete_documents", collection, docIds: gone });
    }
  }
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

/** The file's SM3; a file that cannot be read fails as a DocumentError naming it. */
async function readHash(file: DocumentFile): Promise<string> {
  try {
    return await hashFile(file.path);
  } catch (error) {
    throw new DocumentError(`${file.source}: cannot read it: ${(error as Error).message}`, { cause: error });
  }
}

export interface EmbedProgress {
  vectors: number;
  /** Chunks without a vector when embedding started. */
  total: number;
}

/**
 * Computes vectors for the chunks that have none (`clawbot kb embed`), `batchSize` chunks per `embed` call and
 * transaction; resumable (an interrupted run leaves the written batches). Returns the vectors written.
 */
export async function embedMissing(
  database: KnowledgeDatabase,
  embedder: KnowledgeEmbedder,
  options: { batchSize?: number; total?: number; onProgress?: (progress: EmbedProgress) => void; signal?: AbortSignal } = {},
): Promise<number> {
  const batchSize = options.batchSize ?? 128;
  database.useEmbedding(embedder.id, embedder.dimensions);
  let written = 0;
  let lastId = -1;
  for (;;) {
    options.signal?.throwIfAborted();
    const rows = database.chunksWithoutVectors(batchSize);
    // A chunk that came back again was not written (deleted meanwhile): stop rather than loop.
    if (rows.length === 0 || (rows[0] as { chunkId: number }).chunkId <= lastId) break;
    const vectors = await embedder.embed(
      rows.map((row) => row.text),
      { signal: options.signal },
    );
    database.writeVectors(rows.map((row, index) => ({ chunkId: row.chunkId, vector: vectors[index] as Float32Array })));
    lastId = (rows[rows.length - 1] as { chunkId: number }).chunkId;
    written += rows.length;
    options.onProgress?.({ vectors: written, total: options.total ?? written });
  }
  return written;
}
