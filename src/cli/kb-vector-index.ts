// Syncs the knowledge base's HNSW index after a CLI command changed its vectors, and says what it did in one line.
import type { KnowledgeDatabase } from "../knowledge/knowledge-database.js";
import { syncVectorIndex, type VectorIndexSync } from "../knowledge/vector-index.js";

/** The sync's result (for --json) and its line for people ("" when there are no vectors and never were). */
export function syncVectorIndexReport(database: KnowledgeDatabase): { sync: VectorIndexSync; line: string } {
  const hadVectors = database.embedding() !== undefined;
  const sync = syncVectorIndex(database);
  const vectors = `${sync.vectors} vector${sync.vectors === 1 ? "" : "s"}`;
  const line =
    sync.action === "built" || sync.action === "updated"
      ? `vector index: ${vectors} (${sync.action}) in ${sync.seconds.toFixed(1)} s\n`
      : sync.action === "current"
        ? `vector index: ${vectors} (up to date)\n`
        : hadVectors
          ? "vector index: removed (no vectors)\n"
          : "";
  return { sync, line };
}
