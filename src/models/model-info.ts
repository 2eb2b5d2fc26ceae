// Reads what `clawbot models show` prints from a GGUF file's header, without loading the model.
import fs from "node:fs";

export interface ModelInfo {
  path: string;
  size: number;
  architecture: string;
  /** general.name, when the file has one. */
  name: string | undefined;
  /** Parameter count: the elements of every tensor. */
  parameters: number;
  /** From general.file_type (e.g. Q4_K_M), else the tensor type holding most of the weights (e.g. F32). */
  quantization: string;
  /** The context length the model was trained with (`<architecture>.context_length`), when the file says it. */
  contextLength: number | undefined;
  /** Whether the file carries a chat template (tokenizer.chat_template). */
  chatTemplate: boolean;
}

/** Large arrays the summary does not need, skipped while parsing (a vocabulary can hold 150 000 entries). */
const skippedKeys = ["tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type", "tokenizer.ggml.merges"];

export async function readModelInfo(file: string): Promise<ModelInfo> {
  // Loaded on demand: node-llama-cpp is large, and only this command needs it outside the engine.
  const { readGgufFileInfo, GgufFileType, GgmlType } = await import("node-llama-cpp");
  const size = (await fs.promises.stat(file)).size;
  const info = await readGgufFileInfo(file, { readTensorInfo: true, ignoreKeys: skippedKeys, logWarnings: false, sourceType: "filesystem" });
  const metadata = info.metadata as unknown as {
    general?: { architecture?: string; name?: string; file_type?: number };
    tokenizer?: { chat_template?: unknown };
  } & Record<string, unknown>;
  const architecture = metadata.general?.architecture ?? "unknown";
  const tensors = info.fullTensorInfo ?? info.tensorInfo ?? [];
  let parameters = 0;
  const bytesByType = new Map<number, number>();
  for (const tensor of tensors) {
    const elements = tensor.dimensions.reduce<number>((product, dimension) => product * Number(dimension), 1);
    parameters += elements;
    bytesByType.set(tensor.ggmlType, (bytesByType.get(tensor.ggmlType) ?? 0) + elements);
  }
  const fileType = metadata.general?.file_type;
  const fileTypeName = fileType === undefined ? undefined : GgufFileType[fileType];
  let quantization: string;
  if (fileTypeName !== undefined) {
    quantization = fileTypeName.replace(/^(MOSTLY|ALL)_/, "");
  } else {
    const dominant = [...bytesByType.entries()].sort((first, second) => second[1] - first[1])[0]?.[0];
    quantization = dominant === undefined ? "unknown" : `${GgmlType[dominant] ?? `type ${dominant}`} (most weights; the file does not name its type)`;
  }
  const architectureKeys = info.architectureMetadata as { context_length?: number } | undefined;
  const template = metadata.tokenizer?.chat_template;
  return {
    path: file,
    size,
    architecture,
    name: metadata.general?.name,
    parameters,
    quantization,
    contextLength: typeof architectureKeys?.context_length === "number" ? architectureKeys.context_length : undefined,
    chatTemplate: typeof template === "string" && template.trim() !== "",
  };
}

/** 494032768 → "494.0M", 292 000 → "292.0K". */
export function formatParameterCount(count: number): string {
  for (const [unit, size] of [["T", 1e12], ["B", 1e9], ["M", 1e6], ["K", 1e3]] as const) {
    if (count >= size) return `${(count / size).toFixed(1)}${unit}`;
  }
  return String(count);
}
