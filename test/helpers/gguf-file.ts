// A small GGUF v3 reader and writer for tests: metadata key-value pairs, tensor infos, aligned tensor data.
import fs from "node:fs";

/** GGUF metadata value types, by the names the spec uses (lower-cased). */
export const ggufValueTypes = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;

export type GgufValueType = keyof typeof ggufValueTypes;

/**
 * A typed metadata value. Numbers are JS numbers except uint64/int64 (bigint); bool is boolean; string is string.
 * Arrays hold scalars of `itemType`, or for `itemType: "array"` nested `{itemType, value}` arrays.
 */
export type GgufValue =
  | { type: "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "float32" | "float64"; value: number }
  | { type: "uint64" | "int64"; value: bigint }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "array"; itemType: GgufValueType; value: unknown[] };

export interface GgufTensor {
  name: string;
  /** Dimensions, innermost first (ne[0] is the row length), as in ggml. */
  dims: (number | bigint)[];
  /** The ggml type id (0 = F32, 1 = F16, 8 = Q8_0, ...). */
  type: number;
  /** Offset of the data from the start of the tensor data section (set by the reader; the writer recomputes it). */
  offset?: number;
  data: Buffer;
}

export interface GgufFile {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: (GgufTensor & { offset: number })[];
  alignment: number;
}

const magic = 0x46554747; // "GGUF" read as a little-endian uint32
const defaultAlignment = 32;
const typeNames = new Map<number, GgufValueType>(Object.entries(ggufValueTypes).map(([name, id]) => [id, name as GgufValueType]));

/** ggml type id → [elements per block, bytes per block], from ggml's type traits. */
const ggmlBlockLayouts = new Map<number, [number, number]>([
  [0, [1, 4]], [1, [1, 2]], [2, [32, 18]], [3, [32, 20]], [6, [32, 22]], [7, [32, 24]], [8, [32, 34]], [9, [32, 36]],
  [10, [256, 84]], [11, [256, 110]], [12, [256, 144]], [13, [256, 176]], [14, [256, 210]], [15, [256, 292]],
  [16, [256, 66]], [17, [256, 74]], [18, [256, 98]], [19, [256, 50]], [20, [32, 18]], [21, [256, 110]], [22, [256, 82]],
  [23, [256, 136]], [24, [1, 1]], [25, [1, 2]], [26, [1, 4]], [27, [1, 8]], [28, [1, 8]], [29, [256, 56]], [30, [1, 2]],
  [34, [256, 54]], [35, [256, 66]], [39, [32, 17]],
]);

/** Bytes a tensor's data takes, or undefined for a ggml type this helper does not know. */
export function tensorByteSize(type: number, dims: readonly (number | bigint)[]): number | undefined {
  const layout = ggmlBlockLayouts.get(type);
  if (!layout) return undefined;
  const [blockElements, blockBytes] = layout;
  const elements = dims.reduce<number>((product, dim) => product * Number(dim), 1);
  const rowLength = Number(dims[0] ?? 1);
  if (rowLength % blockElements !== 0) throw new Error(`Row length ${rowLength} is not a multiple of the block size ${blockElements}`);
  return (elements / blockElements) * blockBytes;
}

function alignUp(offset: number, alignment: number): number {
  return Math.ceil(offset / alignment) * alignment;
}

class ByteReader {
  position = 0;
  constructor(private readonly buffer: Buffer) {}

  private take(bytes: number): number {
    const start = this.position;
    if (start + bytes > this.buffer.length) throw new Error(`GGUF truncated: need ${bytes} bytes at offset ${start}`);
    this.position += bytes;
    return start;
  }

  uint32(): number {
    return this.buffer.readUInt32LE(this.take(4));
  }

  uint64AsNumber(): number {
    const value = this.buffer.readBigUInt64LE(this.take(8));
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`GGUF value ${value} is too large`);
    return Number(value);
  }

  string(): string {
    const length = this.uint64AsNumber();
    const start = this.take(length);
    return this.buffer.toString("utf8", start, start + length);
  }

  scalar(type: GgufValueType): unknown {
    const buffer = this.buffer;
    switch (type) {
      case "uint8": return buffer.readUInt8(this.take(1));
      case "int8": return buffer.readInt8(this.take(1));
      case "uint16": return buffer.readUInt16LE(this.take(2));
      case "int16": return buffer.readInt16LE(this.take(2));
      case "uint32": return buffer.readUInt32LE(this.take(4));
      case "int32": return buffer.readInt32LE(this.take(4));
      case "float32": return buffer.readFloatLE(this.take(4));
      case "bool": return buffer.readUInt8(this.take(1)) !== 0;
      case "string": return this.string();
      case "uint64": return buffer.readBigUInt64LE(this.take(8));
      case "int64": return buffer.readBigInt64LE(this.take(8));
      case "float64": return buffer.readDoubleLE(this.take(8));
      case "array": {
        const itemType = this.valueType();
        const length = this.uint64AsNumber();
        const items = Array.from({ length }, () => this.scalar(itemType));
        return { itemType, value: items };
      }
    }
  }

  valueType(): GgufValueType {
    const id = this.uint32();
    const name = typeNames.get(id);
    if (!name) throw new Error(`Unknown GGUF value type ${id} at offset ${this.position - 4}`);
    return name;
  }
}

/** Reads a whole GGUF file (v2 or v3) into memory; tensor data are views into the file's buffer. */
export function readGguf(filePath: string): GgufFile {
  const buffer = fs.readFileSync(filePath);
  const reader = new ByteReader(buffer);
  if (reader.uint32() !== magic) throw new Error(`${filePath} is not a GGUF file (bad magic)`);
  const version = reader.uint32();
  if (version !== 2 && version !== 3) throw new Error(`${filePath}: unsupported GGUF version ${version}`);
  const tensorCount = reader.uint64AsNumber();
  const metadataCount = reader.uint64AsNumber();
  const metadata = new Map<string, GgufValue>();
  for (let index = 0; index < metadataCount; index++) {
    const key = reader.string();
    const type = reader.valueType();
    const value = reader.scalar(type);
    metadata.set(key, (type === "array" ? { type, ...(value as object) } : { type, value }) as GgufValue);
  }
  const infos: { name: string; dims: number[]; type: number; offset: number }[] = [];
  for (let index = 0; index < tensorCount; index++) {
    const name = reader.string();
    const dimensionCount = reader.uint32();
    const dims = Array.from({ length: dimensionCount }, () => reader.uint64AsNumber());
    const type = reader.uint32();
    const offset = reader.uint64AsNumber();
    infos.push({ name, dims, type, offset });
  }
  const alignment = alignmentOf(metadata);
  const dataStart = alignUp(reader.position, alignment);
  const offsetsAscending = [...new Set(infos.map((info) => info.offset))].sort((first, second) => first - second);
  const tensors = infos.map((info) => {
    const following = offsetsAscending.find((offset) => offset > info.offset) ?? buffer.length - dataStart;
    const size = tensorByteSize(info.type, info.dims) ?? following - info.offset;
    const start = dataStart + info.offset;
    if (start + size > buffer.length) throw new Error(`${filePath}: tensor ${info.name} runs past the end of the file`);
    return { ...info, data: buffer.subarray(start, start + size) };
  });
  return { version, metadata, tensors, alignment };
}

function alignmentOf(metadata: Map<string, GgufValue>): number {
  const entry = metadata.get("general.alignment");
  if (!entry) return defaultAlignment;
  const alignment = Number(entry.value);
  if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) throw new Error(`Bad general.alignment ${alignment}`);
  return alignment;
}

class ByteWriter {
  private readonly chunks: Buffer[] = [];
  length = 0;

  bytes(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  private fixed(size: number, write: (buffer: Buffer) => void): void {
    const buffer = Buffer.alloc(size);
    write(buffer);
    this.bytes(buffer);
  }

  uint32(value: number): void {
    this.fixed(4, (buffer) => buffer.writeUInt32LE(value));
  }

  uint64(value: number | bigint): void {
    this.fixed(8, (buffer) => buffer.writeBigUInt64LE(BigInt(value)));
  }

  string(value: string): void {
    const encoded = Buffer.from(value, "utf8");
    this.uint64(encoded.length);
    this.bytes(encoded);
  }

  padTo(alignment: number): void {
    const padding = alignUp(this.length, alignment) - this.length;
    if (padding > 0) this.bytes(Buffer.alloc(padding));
  }

  value(type: GgufValueType, value: unknown, itemType?: GgufValueType): void {
    switch (type) {
      case "uint8": return this.fixed(1, (buffer) => buffer.writeUInt8(value as number));
      case "int8": return this.fixed(1, (buffer) => buffer.writeInt8(value as number));
      case "uint16": return this.fixed(2, (buffer) => buffer.writeUInt16LE(value as number));
      case "int16": return this.fixed(2, (buffer) => buffer.writeInt16LE(value as number));
      case "uint32": return this.fixed(4, (buffer) => buffer.writeUInt32LE(value as number));
      case "int32": return this.fixed(4, (buffer) => buffer.writeInt32LE(value as number));
      case "float32": return this.fixed(4, (buffer) => buffer.writeFloatLE(value as number));
      case "bool": return this.fixed(1, (buffer) => buffer.writeUInt8(value ? 1 : 0));
      case "string": return this.string(value as string);
      case "uint64": return this.fixed(8, (buffer) => buffer.writeBigUInt64LE(BigInt(value as bigint)));
      case "int64": return this.fixed(8, (buffer) => buffer.writeBigInt64LE(BigInt(value as bigint)));
      case "float64": return this.fixed(8, (buffer) => buffer.writeDoubleLE(value as number));
      case "array": {
        if (!itemType || !Array.isArray(value)) throw new Error("A GGUF array needs an itemType and an array value");
        this.uint32(ggufValueTypes[itemType]);
        this.uint64(value.length);
        for (const item of value) {
          if (itemType === "array") {
            const nested = item as { itemType: GgufValueType; value: unknown[] };
            this.value("array", nested.value, nested.itemType);
          } else this.value(itemType, item);
        }
        return;
      }
    }
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

/** Encodes a GGUF v3 file: header, metadata in map order, tensor infos, padding, then each tensor's data aligned. */
export function encodeGguf(file: { metadata: Map<string, GgufValue>; tensors: GgufTensor[] }): Buffer {
  const alignment = alignmentOf(file.metadata);
  const writer = new ByteWriter();
  writer.uint32(magic);
  writer.uint32(3);
  writer.uint64(file.tensors.length);
  writer.uint64(file.metadata.size);
  for (const [key, entry] of file.metadata) {
    writer.string(key);
    writer.uint32(ggufValueTypes[entry.type]);
    writer.value(entry.type, entry.value, entry.type === "array" ? entry.itemType : undefined);
  }
  let offset = 0;
  for (const tensor of file.tensors) {
    const expected = tensorByteSize(tensor.type, tensor.dims);
    if (expected !== undefined && expected !== tensor.data.length) {
      throw new Error(`Tensor ${tensor.name}: ${tensor.data.length} bytes of data, its type and dims need ${expected}`);
    }
    writer.string(tensor.name);
    writer.uint32(tensor.dims.length);
    for (const dim of tensor.dims) writer.uint64(dim);
    writer.uint32(tensor.type);
    writer.uint64(offset);
    offset = alignUp(offset + tensor.data.length, alignment);
  }
  writer.padTo(alignment);
  for (const tensor of file.tensors) {
    writer.bytes(tensor.data);
    writer.padTo(alignment);
  }
  return writer.toBuffer();
}

/** Writes a GGUF v3 file (see encodeGguf). */
export function writeGguf(filePath: string, file: { metadata: Map<string, GgufValue>; tensors: GgufTensor[] }): void {
  fs.writeFileSync(filePath, encodeGguf(file));
}

/**
 * Copies a GGUF file with metadata changed: a string is stored as a string value, a typed value as given, null removes
 * the key. Changed keys keep their place; new keys go at the end.
 */
export function copyGgufWithMetadata(source: string, target: string, changes: Record<string, GgufValue | string | null>): void {
  const file = readGguf(source);
  for (const [key, change] of Object.entries(changes)) {
    if (change === null) file.metadata.delete(key);
    else file.metadata.set(key, typeof change === "string" ? { type: "string", value: change } : change);
  }
  writeGguf(target, file);
}
