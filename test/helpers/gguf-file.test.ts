// The test GGUF reader/writer: a byte-identical round trip of the real model, every value type, and a copy with a chat template that still loads.
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { getLlama, type Llama, LlamaCompletion, LlamaLogLevel, readGgufFileInfo } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyGgufWithMetadata, encodeGguf, type GgufValue, readGguf, tensorByteSize, writeGguf } from "./gguf-file.js";
import { testModelPath } from "./test-model.js";

const chatTemplate = "{% for message in messages %}{{ message['content'] }}{% endfor %}";

function sha256(filePath: string): string {
  return createHash("sha256").update(fs.readFileSync(filePath)).digest("hex");
}

describe("gguf-file", () => {
  let modelPath: string;
  let directory: string;

  beforeAll(async () => {
    modelPath = await testModelPath();
    directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-gguf-"));
  });
  afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

  it("reads the test model's header, metadata and tensors", async () => {
    const file = readGguf(modelPath);
    expect(file.version).toBe(3);
    expect(file.alignment).toBe(32);
    expect(file.metadata.get("general.architecture")).toEqual({ type: "string", value: "llama" });
    expect(file.metadata.get("llama.block_count")).toEqual({ type: "uint32", value: 5 });
    const tokens = file.metadata.get("tokenizer.ggml.tokens");
    expect(tokens).toMatchObject({ type: "array", itemType: "string" });
    expect(tokens?.value).toHaveLength(512);
    expect((tokens?.value as string[]).slice(0, 3)).toEqual(["<unk>", "<s>", "</s>"]);
    expect(file.metadata.get("tokenizer.ggml.scores")).toMatchObject({ type: "array", itemType: "float32" });
    expect(file.metadata.get("llama.attention.layer_norm_rms_epsilon")?.value).toBeCloseTo(1e-5, 10);

    const reference = await readGgufFileInfo(modelPath, { logWarnings: false });
    expect(file.tensors).toHaveLength(reference.fullTensorInfo?.length ?? -1);
    file.tensors.forEach((tensor, index) => {
      const expected = reference.fullTensorInfo?.[index];
      expect(tensor.name).toBe(expected?.name);
      expect(tensor.dims).toEqual(expected?.dimensions.map(Number));
      expect(tensor.type).toBe(expected?.ggmlType);
      expect(tensor.offset).toBe(Number(expected?.offset));
      expect(tensor.data.length).toBe(tensorByteSize(tensor.type, tensor.dims));
    });
  });

  it("writes the test model back byte for byte", () => {
    const original = fs.readFileSync(modelPath);
    const copyPath = path.join(directory, "copy.gguf");
    writeGguf(copyPath, readGguf(modelPath));
    expect(fs.readFileSync(copyPath).equals(original)).toBe(true);
    expect(sha256(copyPath)).toBe(sha256(modelPath));
  });

  it("round-trips every value type, nested arrays, custom alignment and unaligned tensor sizes", async () => {
    const metadata = new Map<string, GgufValue>([
      ["general.architecture", { type: "string", value: "clawbot-test" }],
      ["general.alignment", { type: "uint32", value: 64 }],
      ["test.uint8", { type: "uint8", value: 255 }],
      ["test.int8", { type: "int8", value: -128 }],
      ["test.uint16", { type: "uint16", value: 65_535 }],
      ["test.int16", { type: "int16", value: -32_768 }],
      ["test.uint32", { type: "uint32", value: 4_294_967_295 }],
      ["test.int32", { type: "int32", value: -2_147_483_648 }],
      ["test.float32", { type: "float32", value: 0.5 }],
      ["test.bool", { type: "bool", value: true }],
      ["test.string", { type: "string", value: "héllo\n{{ x }}" }],
      ["test.uint64", { type: "uint64", value: 18_446_744_073_709_551_615n }],
      ["test.int64", { type: "int64", value: -9_223_372_036_854_775_808n }],
      ["test.float64", { type: "float64", value: Math.PI }],
      ["test.strings", { type: "array", itemType: "string", value: ["a", "", "ü"] }],
      ["test.ints", { type: "array", itemType: "int32", value: [1, -2, 3] }],
      ["test.floats", { type: "array", itemType: "float32", value: [0.25, -1.5] }],
      ["test.bools", { type: "array", itemType: "bool", value: [true, false] }],
      ["test.uint64s", { type: "array", itemType: "uint64", value: [0n, 1n << 40n] }],
      ["test.empty", { type: "array", itemType: "uint8", value: [] }],
      ["test.nested", { type: "array", itemType: "array", value: [{ itemType: "uint16", value: [7, 8] }, { itemType: "string", value: ["x"] }] }],
    ]);
    const float32s = Buffer.from(new Float32Array([1, 2, 3]).buffer);
    const float16s = Buffer.from([0, 60, 0, 64, 0, 66, 0, 68, 0, 69]);
    const tensors = [
      { name: "a.weight", dims: [3], type: 0, data: float32s },
      { name: "b.weight", dims: [5, 1], type: 1, data: float16s },
      { name: "c.weight", dims: [2n, 2n], type: 0, data: Buffer.from(new Float32Array([4, 5, 6, 7]).buffer) },
    ];
    const filePath = path.join(directory, "types.gguf");
    writeGguf(filePath, { metadata, tensors });

    const file = readGguf(filePath);
    expect(file.alignment).toBe(64);
    expect(file.metadata).toEqual(metadata);
    expect(file.tensors.map((tensor) => tensor.offset)).toEqual([0, 64, 128]);
    expect(file.tensors.map((tensor) => tensor.dims)).toEqual([[3], [5, 1], [2, 2]]);
    expect(file.tensors.map((tensor) => Buffer.from(tensor.data))).toEqual(tensors.map((tensor) => tensor.data));
    expect(encodeGguf(file).equals(fs.readFileSync(filePath))).toBe(true);

    const reference = await readGgufFileInfo(filePath, { logWarnings: false });
    expect(reference.version).toBe(3);
    expect(reference.metadata.general.architecture).toBe("clawbot-test");
    const tensorInfo = reference.fullTensorInfo ?? [];
    expect(tensorInfo.map((tensor) => Number(tensor.offset))).toEqual([0, 64, 128]);
    const dataStart = Number(tensorInfo[0]?.fileOffset);
    expect(dataStart % 64).toBe(0);
    expect(fs.readFileSync(filePath).subarray(dataStart + 64, dataStart + 74).equals(float16s)).toBe(true);
  });

  it("refuses tensor data whose size does not match its type and dims", () => {
    const tensors = [{ name: "bad", dims: [4], type: 0, data: Buffer.alloc(12) }];
    expect(() => encodeGguf({ metadata: new Map(), tensors })).toThrow(/12 bytes/);
  });

  describe("a copy with a chat template", () => {
    let llama: Llama;
    let templatedPath: string;

    beforeAll(async () => {
      templatedPath = path.join(directory, "templated.gguf");
      copyGgufWithMetadata(modelPath, templatedPath, { "tokenizer.chat_template": chatTemplate, "general.name": null });
      llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    });
    afterAll(async () => llama?.dispose());

    it("is seen by node-llama-cpp's reader, with the rest unchanged", async () => {
      const original = await readGgufFileInfo(modelPath, { logWarnings: false });
      const templated = await readGgufFileInfo(templatedPath, { logWarnings: false });
      expect(templated.metadata.tokenizer.chat_template).toBe(chatTemplate);
      expect(original.metadata.tokenizer.chat_template).toBeUndefined();
      expect(templated.metadata.general.name).toBeUndefined();
      expect(templated.metadata.llama).toEqual(original.metadata.llama);
      expect(templated.metadata.tokenizer.ggml).toEqual(original.metadata.tokenizer.ggml);
      const originalTensors = readGguf(modelPath).tensors;
      readGguf(templatedPath).tensors.forEach((tensor, index) => expect(tensor.data.equals(originalTensors[index]?.data ?? Buffer.alloc(0))).toBe(true));
    });

    it("loads and generates the same greedy text as the original", async () => {
      const generate = async (filePath: string): Promise<string> => {
        const model = await llama.loadModel({ modelPath: filePath });
        const context = await model.createContext({ contextSize: 256, threads: 1 });
        const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
        try {
          return await completion.generateCompletion("Once upon a time", { maxTokens: 48, temperature: 0, repeatPenalty: false });
        } finally {
          completion.dispose();
          await context.dispose();
          await model.dispose();
        }
      };
      const original = await generate(modelPath);
      expect(original.length).toBeGreaterThan(20);
      expect(await generate(templatedPath)).toBe(original);
    });
  });
});
