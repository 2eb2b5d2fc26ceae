// Knowledge-base metrics: how long each chat turn's search takes (BM25 or hybrid, query embedding included).
import { Histogram, type Registry } from "prom-client";

/** BM25 over 100k chunks is a few milliseconds; hybrid adds the query's embedding and the exact vector scan (~35 ms). */
const searchBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface KnowledgeMetrics {
  /** One search of the retrieve stage took `seconds`; `outcome` is "found", "empty" or the error code. */
  searched(mode: string, seconds: number, outcome: string): void;
}

export function knowledgeMetrics(registry: Registry): KnowledgeMetrics {
  const duration = new Histogram({
    name: "clawbot_knowledge_search_duration_seconds",
    help: "Time one chat turn's knowledge-base search took (query embedding included), by mode (bm25, hybrid) and outcome (found, empty, an error code).",
    labelNames: ["mode", "outcome"] as const,
    buckets: searchBuckets,
    registers: [registry],
  });
  return {
    searched(mode, seconds, outcome) {
      duration.observe({ mode, outcome }, seconds);
    },
  };
}
