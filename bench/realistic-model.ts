// Writes, on demand, a benchmark GGUF with a small real model's shapes (~100M-parameter llama, Q8_0, random weights).
//
// The test model (stories260K) decodes a token in ~0.4 ms, so per-token JavaScript looks huge and batching looks useless
// next to it. This model's weights dominate its cost as a real model's do: 12 layers, 768 wide, 12 heads, FFN 2048,
// Q8_0 weights (~90 MB), the test model's tokenizer (512 tokens). Its text is noise; its cost per token is real.
// It is generated once into a cache outside the repository (never committed):
//   node --import tsx bench/realistic-model.ts        # prints the path, writing the file first when missing
//   BENCH_MODEL=realistic npm run bench               # the benchmarks on it
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type GgufTensor, type GgufValue, readGguf, writeGguf } from "../test/helpers/gguf-file.js";
import { testModelFileName, testModelPath } from "../test/helpers/test-model.js";
import { BenchSetupError } from "./options.js";

export interface ModelShape {
  layers: number;
  width: number;
  heads: number;
  kvHeads: number;
  feedForward: number;
  contextLength: number;
}

/** A ~100M-parameter llama (the widths of GPT-2 small / SmolLM-135M class models). */
export const realisticShape: ModelShape = { layers: 12, width: 768, heads: 12, kvHeads: 12, feedForward: 2048, contextLength: 2048 };

/** Bumped whenever the written file would differ, so an old cached copy is not used. */
const formatVersion = 1;
const ggmlF32 = 0;
const ggmlQ8_0 = 8;
const q8BlockElements = 32;
const q8BlockBytes = 34;
/** Standard deviation of the random weights (as initialised for training): activations stay finite through 12 layers. */
const weightDeviation = 0.02;
/** Token types (tokenizer.ggml.token_type) that are never a text answer: unknown, control. */
const nonTextTokenTypes = new Set([2, 3]);

export function defaultModelCacheDirectory(): string {
  return process.env.CLAWBOT_BENCH_MODEL_CACHE || path.join(os.homedir(), ".cache", "clawbot", "bench-models");
}

/** The cached realistic-shape model's path, writing it first when missing (a few seconds). */
export async function realisticModelPath(
  options: { cacheDirectory?: string; shape?: ModelShape; log?: (line: string) => void } = {},
): Promise<string> {
  const shape = options.shape ?? realisticShape;
  const directory = options.cacheDirectory ?? defaultModelCacheDirectory();
  const name = `llama-shape-${shape.layers}x${shape.width}-h${shape.heads}-kv${shape.kvHeads}-ffn${shape.feedForward}-q8_0-v${formatVersion}.gguf`;
  const target = path.join(directory, name);
  if (fs.existsSync(target)) return target;
  fs.mkdirSync(directory, { recursive: true });
  const startedAt = performance.now();
  const partial = `${target}.${process.pid}.partial`;
  writeGguf(partial, buildModel(await benchTestModelPath(), shape));
  fs.renameSync(partial, target);
  options.log?.(`wrote ${target} (${(fs.statSync(target).size / 1024 ** 2).toFixed(1)} MiB) in ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);
  return target;
}

/** BENCH_MODEL: unset → the test model, "realistic" → the realistic-shape model (written when missing), else a GGUF path. */
export async function resolveBenchModel(setting: string | undefined, log?: (line: string) => void, options: TestModelLookup = {}): Promise<string> {
  if (!setting) return benchTestModelPath(options);
  if (setting === "realistic") return realisticModelPath({ log });
  const modelPath = path.resolve(setting);
  if (!fs.existsSync(modelPath)) throw new BenchSetupError(`BENCH_MODEL=${setting}: no such file (${modelPath}); set it to a GGUF file, or unset it for the test model`);
  return modelPath;
}

export interface TestModelLookup {
  environment?: NodeJS.ProcessEnv;
  /** The tests' lookup (../shared/models, their download cache, else a download); replaced in unit tests. */
  findTestModel?: () => Promise<string>;
}

/**
 * The test model as the tests find it: CLAWBOT_TEST_MODEL, else ../shared/models/stories260K.gguf beside the repository,
 * else the tests' cached download, else a download. A CLAWBOT_TEST_MODEL that names no file, or a failed download
 * (no network), is one line saying what to set.
 */
export async function benchTestModelPath(options: TestModelLookup = {}): Promise<string> {
  const environment = options.environment ?? process.env;
  const configured = environment.CLAWBOT_TEST_MODEL;
  if (configured) {
    if (fs.existsSync(configured)) return path.resolve(configured);
    throw new BenchSetupError(`CLAWBOT_TEST_MODEL=${configured}: no such file; set it to ${testModelFileName} (or BENCH_MODEL to any GGUF file)`);
  }
  try {
    return await (options.findTestModel ?? testModelPath)();
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).split("\n")[0];
    throw new BenchSetupError(
      `no test model: ../shared/models/${testModelFileName} is missing and downloading it failed (${reason}); ` +
        `set CLAWBOT_TEST_MODEL=/path/to/${testModelFileName} or BENCH_MODEL=/path/to/model.gguf`,
    );
  }
}

/** The test model's metadata (tokenizer included) with the new shape, and random tensors of that shape. */
function buildModel(tokenizerModelPath: string, shape: ModelShape): { metadata: Map<string, GgufValue>; tensors: GgufTensor[] } {
  const source = readGguf(tokenizerModelPath);
  const metadata = new Map<string, GgufValue>();
  for (const [key, value] of source.metadata) if (key.startsWith("tokenizer.")) metadata.set(key, value);
  const tokenTypes = (source.metadata.get("tokenizer.ggml.token_type")?.value ?? []) as number[];
  const vocabulary = tokenTypes.length;
  const uint32 = (value: number): GgufValue => ({ type: "uint32", value });
  metadata.set("general.architecture", { type: "string", value: "llama" });
  metadata.set("general.name", { type: "string", value: "clawbot-bench-realistic-shape" });
  metadata.set("general.file_type", uint32(7)); // LLAMA_FTYPE_MOSTLY_Q8_0
  metadata.set("llama.context_length", uint32(shape.contextLength));
  metadata.set("llama.embedding_length", uint32(shape.width));
  metadata.set("llama.feed_forward_length", uint32(shape.feedForward));
  metadata.set("llama.attention.head_count", uint32(shape.heads));
  metadata.set("llama.attention.head_count_kv", uint32(shape.kvHeads));
  metadata.set("llama.block_count", uint32(shape.layers));
  metadata.set("llama.rope.dimension_count", uint32(shape.width / shape.heads));
  metadata.set("llama.attention.layer_norm_rms_epsilon", { type: "float32", value: 1e-5 });

  const random = seededRandom(0x5eed);
  const kvWidth = (shape.width / shape.heads) * shape.kvHeads;
  const tensors: GgufTensor[] = [
    { name: "token_embd.weight", dims: [shape.width, vocabulary], type: ggmlQ8_0, data: q8Tensor(shape.width, vocabulary, random) },
    { name: "output_norm.weight", dims: [shape.width], type: ggmlF32, data: onesF32(shape.width) },
    // Rows of tokens that are never text (end of sequence included) get logit 0, below the best random one: greedy
    // generation never stops early, so every stream runs to max_tokens.
    {
      name: "output.weight",
      dims: [shape.width, vocabulary],
      type: ggmlQ8_0,
      data: q8Tensor(shape.width, vocabulary, random, (row) => nonTextTokenTypes.has(tokenTypes[row] ?? 0)),
    },
  ];
  for (let layer = 0; layer < shape.layers; layer += 1) {
    const linear = (name: string, inputs: number, outputs: number): GgufTensor => ({
      name: `blk.${layer}.${name}.weight`,
      dims: [inputs, outputs],
      type: ggmlQ8_0,
      data: q8Tensor(inputs, outputs, random),
    });
    tensors.push(
      { name: `blk.${layer}.attn_norm.weight`, dims: [shape.width], type: ggmlF32, data: onesF32(shape.width) },
      linear("attn_q", shape.width, shape.width),
      linear("attn_k", shape.width, kvWidth),
      linear("attn_v", shape.width, kvWidth),
      linear("attn_output", shape.width, shape.width),
      { name: `blk.${layer}.ffn_norm.weight`, dims: [shape.width], type: ggmlF32, data: onesF32(shape.width) },
      linear("ffn_gate", shape.width, shape.feedForward),
      linear("ffn_up", shape.width, shape.feedForward),
      linear("ffn_down", shape.feedForward, shape.width),
    );
  }
  return { metadata, tensors };
}

/** Q8_0 data for `rows` rows of `rowLength`: per block of 32, an F16 scale then 32 int8 values, uniform random. */
function q8Tensor(rowLength: number, rows: number, random: () => number, zeroRow?: (row: number) => boolean): Buffer {
  const blocksPerRow = rowLength / q8BlockElements;
  const data = Buffer.alloc(rows * blocksPerRow * q8BlockBytes);
  // Uniform on [-127, 127] × scale has standard deviation 127 × scale / √3.
  const scale = float16Bits((weightDeviation * Math.sqrt(3)) / 127);
  for (let row = 0; row < rows; row += 1) {
    if (zeroRow?.(row)) continue;
    for (let block = 0; block < blocksPerRow; block += 1) {
      const offset = (row * blocksPerRow + block) * q8BlockBytes;
      data.writeUInt16LE(scale, offset);
      for (let index = 0; index < q8BlockElements; index += 1) data.writeInt8(Math.floor(random() * 255) - 127, offset + 2 + index);
    }
  }
  return data;
}

function onesF32(length: number): Buffer {
  const data = Buffer.alloc(length * 4);
  for (let index = 0; index < length; index += 1) data.writeFloatLE(1, index * 4);
  return data;
}

/** IEEE half-precision bits of a small positive normal number. */
function float16Bits(value: number): number {
  const exponent = Math.floor(Math.log2(value));
  const mantissa = Math.round((value / 2 ** exponent - 1) * 1024);
  return ((exponent + 15) << 10) | mantissa;
}

/** xorshift32: the same weights on every machine. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  realisticModelPath({ log: (line) => process.stderr.write(`${line}\n`) })
    .then((modelPath) => process.stdout.write(`${modelPath}\n`))
    .catch((error: unknown) => {
      const message = error instanceof BenchSetupError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
      process.stderr.write(`${message}\n`);
      process.exitCode = 1;
    });
}
