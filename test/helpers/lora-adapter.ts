// Writes a small LoRA adapter GGUF for a base model, in the layout llama.cpp loads, with deterministic weights.
import { type GgufTensor, type GgufValue, readGguf, writeGguf } from "./gguf-file.js";

export interface LoraAdapterSpec {
  /** Rank of each A·B pair (default 4). */
  rank?: number;
  /** llama.cpp scales the delta by alpha / rank (default: alpha = rank, so by the context's scale alone). */
  alpha?: number;
  /** Which weights of every block get a pair (default: all four attention projections). */
  targets?: string[];
  /** Largest weight value (default 0.5). */
  amplitude?: number;
  /** Write A and B with their two dimensions swapped, the orientation llama.cpp refuses (default false). */
  transposed?: boolean;
}

const f32 = 0;

/**
 * Creates `target`: `general.type = adapter`, `adapter.type = lora`, the base model's architecture, and for each
 * targeted base weight of shape [n_in, n_out] (ggml order) an F32 pair `<name>.lora_a` [n_in, rank] and
 * `<name>.lora_b` [rank, n_out], filled with a seeded sin/cos pattern. Returns the number of adapted weights.
 */
export function writeLoraAdapter(baseModelPath: string, target: string, spec: LoraAdapterSpec = {}): number {
  const rank = spec.rank ?? 4;
  const alpha = spec.alpha ?? rank;
  const amplitude = spec.amplitude ?? 0.5;
  const targets = spec.targets ?? ["attn_q", "attn_k", "attn_v", "attn_output"];
  const base = readGguf(baseModelPath);
  const architecture = base.metadata.get("general.architecture");
  if (architecture?.type !== "string") throw new Error(`${baseModelPath} has no general.architecture`);
  const pattern = /^blk\.\d+\.([a-z_]+)\.weight$/;
  const tensors: GgufTensor[] = [];
  for (const tensor of base.tensors) {
    const match = pattern.exec(tensor.name);
    if (!match || !targets.includes(match[1] as string) || tensor.dims.length !== 2) continue;
    const [inputs, outputs] = tensor.dims.map(Number) as [number, number];
    const seed = tensors.length + 1;
    const dimsA = spec.transposed ? [rank, inputs] : [inputs, rank];
    const dimsB = spec.transposed ? [outputs, rank] : [rank, outputs];
    tensors.push({ name: `${tensor.name}.lora_a`, dims: dimsA, type: f32, data: filled(inputs * rank, (index) => amplitude * Math.sin(seed * 1.7 + index * 0.37)) });
    tensors.push({ name: `${tensor.name}.lora_b`, dims: dimsB, type: f32, data: filled(rank * outputs, (index) => amplitude * Math.cos(seed * 0.9 + index * 0.23)) });
  }
  if (tensors.length === 0) throw new Error(`${baseModelPath} has no 2-D block weights named ${targets.join(", ")}`);
  writeGguf(target, {
    metadata: new Map<string, GgufValue>([
      ["general.architecture", architecture],
      ["general.type", { type: "string", value: "adapter" }],
      ["general.name", { type: "string", value: "clawbot test adapter" }],
      ["adapter.type", { type: "string", value: "lora" }],
      ["adapter.lora.alpha", { type: "float32", value: alpha }],
    ]),
    tensors,
  });
  return tensors.length / 2;
}

function filled(count: number, value: (index: number) => number): Buffer {
  const data = Buffer.alloc(count * 4);
  for (let index = 0; index < count; index++) data.writeFloatLE(value(index), index * 4);
  return data;
}
