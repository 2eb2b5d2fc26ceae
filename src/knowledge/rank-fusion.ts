// Weighted reciprocal rank fusion: several rankings of the same chunks into one (score = Σ weight / (rrf_k + rank)).
import type { RetrievedChunk } from "./knowledge-types.js";

export interface Ranking {
  /** Best first; rank 1 is the first. */
  results: readonly RetrievedChunk[];
  weight: number;
}

/**
 * The chunks of every ranking, each scored Σ weight / (rrfK + rank) over the rankings it appears in (a chunk in one
 * ranking gets that term alone), best first, at most `limit`. Ties go to the chunk with the better best rank, then the
 * lower chunk id, so the order is deterministic. The fused chunk is the one of the first ranking that holds it.
 */
export function fuseRankings(rankings: readonly Ranking[], rrfK: number, limit: number): RetrievedChunk[] {
  const fused = new Map<number, { chunk: RetrievedChunk; score: number; bestRank: number }>();
  for (const ranking of rankings) {
    if (ranking.weight <= 0) continue;
    ranking.results.forEach((chunk, index) => {
      const rank = index + 1;
      const term = ranking.weight / (rrfK + rank);
      const entry = fused.get(chunk.chunkId);
      if (entry) {
        entry.score += term;
        entry.bestRank = Math.min(entry.bestRank, rank);
      } else fused.set(chunk.chunkId, { chunk, score: term, bestRank: rank });
    });
  }
  return [...fused.values()]
    .sort((a, b) => b.score - a.score || a.bestRank - b.bestRank || a.chunk.chunkId - b.chunk.chunkId)
    .slice(0, limit)
    .map((entry) => ({ ...entry.chunk, score: entry.score }));
}
