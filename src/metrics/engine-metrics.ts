// Engine metrics: requests running and waiting, KV cache usage, model load time, decode batch sizes, GPU memory.
import { Gauge, Histogram, type Registry } from "prom-client";
import type { LanguageModel, VramUsage } from "../engine/language-model.js";
import { batchSequenceBuckets, batchTokenBuckets } from "./metrics-registry.js";

export interface EngineMetrics {
  modelLoaded(seconds: number): void;
  /** Stops listening to the engine's decodes. */
  close(): void;
}

/** The engine is read on every scrape (load, context usage, VRAM); decodes are observed as they happen. */
export function engineMetrics(registry: Registry, engine: LanguageModel): EngineMetrics {
  const registers = [registry];
  new Gauge({ name: "clawbot_requests_running", help: "Requests holding a sequence (decoding) now.", registers, collect() { this.set(engine.load().active); } });
  new Gauge({ name: "clawbot_requests_waiting", help: "Requests waiting in the admission queue for a free sequence.", registers, collect() { this.set(engine.load().queued); } });
  new Gauge({
    name: "clawbot_kv_cache_usage_ratio",
    help: "Share of the context's token cells (KV cache, all sequences) holding evaluated tokens, states kept for reuse included; 0..1.",
    registers,
    collect() {
      this.set(engine.contextUsage?.() ?? 0);
    },
  });
  new Gauge({
    name: "clawbot_model_info",
    help: "Always 1; its labels say what is served: model, engine, compute backend, parallel sequences.",
    labelNames: ["model", "engine", "backend", "parallel"] as const,
    registers,
    collect() {
      this.reset();
      const { model, engine: name, backend, parallel } = engine.info;
      this.set({ model, engine: name, backend, parallel: String(parallel) }, 1);
    },
  });
  const loadSeconds = new Gauge({ name: "clawbot_model_load_seconds", help: "Seconds the model took to load (0 until it loaded).", registers });
  const batchTokens = new Histogram({
    name: "clawbot_decode_batch_tokens",
    help: "Tokens in each llama.cpp decode batch, prompt tokens included (continuous batching: all running sequences share a batch).",
    buckets: [...batchTokenBuckets],
    registers,
  });
  const batchSequences = new Histogram({ name: "clawbot_decode_batch_sequences", help: "Sequences in each llama.cpp decode batch.", buckets: [...batchSequenceBuckets], registers });
  const gpuLabels = ["backend"] as const;
  // One read of the backend per scrape for both gauges: the registry collects metrics concurrently, so the second
  // waits for the read the first started.
  let reading: Promise<VramUsage | undefined> = Promise.resolve(undefined);
  const vramGauge = (name: string, help: string, value: (vram: VramUsage) => number, startsRead: boolean) =>
    new Gauge({
      name,
      help,
      labelNames: gpuLabels,
      registers,
      async collect() {
        if (startsRead) reading = engine.vram?.().catch(() => undefined) ?? Promise.resolve(undefined);
        const vram = await reading;
        this.reset();
        if (vram && vram.totalBytes > 0) this.set({ backend: engine.info.backend }, value(vram));
      },
    });
  vramGauge("clawbot_gpu_memory_used_bytes", "GPU memory in use on the compute backend's devices, by any process (absent on the CPU).", (vram) => vram.usedBytes, true);
  vramGauge("clawbot_gpu_memory_total_bytes", "GPU memory of the compute backend's devices (absent on the CPU).", (vram) => vram.totalBytes, false);
  const unsubscribe = engine.onDecode?.((batch) => {
    batchTokens.observe(batch.tokens);
    batchSequences.observe(batch.sequences);
  });
  return {
    modelLoaded: (seconds) => loadSeconds.set(seconds),
    close: () => unsubscribe?.(),
  };
}
