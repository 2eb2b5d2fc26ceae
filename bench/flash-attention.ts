// One-off comparison of llama.cpp's flash attention on and off: prompt read (TTFT) and decode time per token, alternating.
// Run: node --import tsx bench/flash-attention.ts <model.gguf> [prompt words, default 700] [repetitions, default 2]
import { createLlamaEngine } from "../src/engine/llama/llama-engine.js";
import { silentLogger } from "../src/logging/logger.js";

const [modelPath, wordCount, repetitions] = [process.argv[2], Number(process.argv[3] ?? 700), Number(process.argv[4] ?? 2)];
if (!modelPath) throw new Error("usage: bench/flash-attention.ts <model.gguf> [prompt words] [repetitions]");
const words = ["the", "little", "dog", "ran", "to", "the", "park", "and", "saw", "a", "bird"];
const prompt = Array.from({ length: wordCount }, (_unused, index) => words[index % words.length]).join(" ");
/** Per setting: [prompt tokens, TTFT ms, ms per decoded token] for each repetition. */
const results = new Map<boolean, number[][]>([[true, []], [false, []]]);
for (let repetition = 0; repetition < repetitions; repetition += 1) {
  for (const flashAttention of [true, false]) {
    const engine = await createLlamaEngine({ modelPath, parallel: 1, threads: 1, maxQueue: 1, gpu: false, logger: silentLogger, contextSize: 2048, flashAttention, contextReuse: false });
    const startedAt = performance.now();
    let firstTokenMs = 0;
    let promptTokens = 0;
    let completionTokens = 0;
    for await (const part of engine.stream({ messages: [{ role: "user", content: prompt }], params: { maxTokens: 32, temperature: 0 } })) {
      if (part.type === "text-delta") firstTokenMs ||= performance.now() - startedAt;
      else if (part.type === "finish") ({ promptTokens, completionTokens } = part.usage);
    }
    const totalMs = performance.now() - startedAt;
    results.get(flashAttention)?.push([promptTokens, Math.round(firstTokenMs), Math.round(((totalMs - firstTokenMs) / Math.max(1, completionTokens - 1)) * 10) / 10]);
    await engine.close();
  }
}
for (const [flashAttention, rows] of results) {
  console.log(`flash attention ${flashAttention ? "on " : "off"}: [prompt tokens, TTFT ms, ms per decoded token] ${JSON.stringify(rows)}`);
}
