// The JSONL file sink: one line per record, rotation at max_bytes keeping max_files, repair of a cut-off last line.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../logging/logger.js";
import type { StoredAuditRecord } from "../audit-record.js";
import { FileSink, type FileSinkConfig } from "./file-sink.js";

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) fs.rmSync(directory, { recursive: true, force: true });
});

function setup(overrides: Partial<FileSinkConfig> = {}) {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-file-sink-"));
  directories.push(directory);
  const config: FileSinkConfig = { type: "file", path: "logs/audit.jsonl", max_bytes: 1024 * 1024, max_files: 3, ...overrides };
  const sink = new FileSink(config, { nodeId: "node-a", baseDir: directory, logger: silentLogger, notify: () => undefined });
  return { sink, file: path.join(directory, "logs", "audit.jsonl") };
}

function records(from: number, count: number, text = "x"): StoredAuditRecord[] {
  return Array.from({ length: count }, (_, index) => ({
    sequence: from + index,
    recordedAt: Date.UTC(2025, 5, 1) + index,
    kind: "request" as const,
    body: { input: `${text}${from + index}`, output: "ünïcode ✓" },
    hash: (from + index).toString(16).padStart(64, "0"),
  }));
}

function lines(file: string): Record<string, unknown>[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, "utf8");
  expect(text === "" || text.endsWith("\n")).toBe(true);
  return text.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("file sink", () => {
  it("appends one JSON line per record, in a 0600 file in a directory it creates, and confirms the last", async () => {
    const { sink, file } = setup();
    await sink.send(records(1, 3));
    await sink.send(records(4, 2));
    expect(sink.confirmed()).toBe(5);
    const written = lines(file);
    expect(written.map((line) => line.sequence)).toEqual([1, 2, 3, 4, 5]);
    expect(written[0]).toEqual({
      sequence: 1,
      recorded_at: "2025-06-01T00:00:00.000Z",
      kind: "request",
      node_id: "node-a",
      hash: "1".padStart(64, "0"),
      body: { input: "x1", output: "ünïcode ✓" },
    });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    await sink.close();
  });

  it("writes checkpoints as lines of kind checkpoint", async () => {
    const { sink, file } = setup();
    await sink.send(records(1, 2));
    await sink.sendCheckpoint({ sequence: 2, hash: "f".repeat(64), nodeId: "node-a", at: Date.UTC(2025, 5, 2) });
    expect(lines(file)[2]).toEqual({ sequence: 2, recorded_at: "2025-06-02T00:00:00.000Z", kind: "checkpoint", node_id: "node-a", hash: "f".repeat(64), body: {} });
    expect(sink.confirmed()).toBe(2);
    await sink.close();
  });

  it("rotates before a line would pass max_bytes, newest rotated file .1, keeping max_files", async () => {
    const lineBytes = Buffer.byteLength(`${JSON.stringify({ sequence: 100, recorded_at: "2025-06-01T00:00:00.000Z", kind: "request", node_id: "node-a", hash: "0".repeat(64), body: { input: "x100", output: "ünïcode ✓" } })}\n`);
    const { sink, file } = setup({ max_bytes: lineBytes * 4, max_files: 2 });
    // 100..119: 20 lines of the same length, 4 per file → 5 files' worth; the live one and 2 rotated are kept.
    for (let start = 100; start < 120; start += 3) await sink.send(records(start, Math.min(3, 120 - start)));
    const kept = [`${file}.2`, `${file}.1`, file].map(lines);
    expect(kept.map((content) => content.map((line) => line.sequence))).toEqual([
      [108, 109, 110, 111],
      [112, 113, 114, 115],
      [116, 117, 118, 119],
    ]);
    expect(fs.existsSync(`${file}.3`)).toBe(false);
    for (const name of [file, `${file}.1`, `${file}.2`]) expect(fs.statSync(name).size).toBeLessThanOrEqual(lineBytes * 4);
    await sink.close();
  });

  it("gives a line larger than max_bytes a file of its own", async () => {
    const { sink, file } = setup({ max_bytes: 200, max_files: 5 });
    await sink.send([...records(1, 1), ...records(2, 1, "y".repeat(500)), ...records(3, 1)]);
    expect([`${file}.2`, `${file}.1`, file].map((name) => lines(name).map((line) => line.sequence))).toEqual([[1], [2], [3]]);
    await sink.close();
  });

  it("cuts off a last line a crash left half-written before appending, and keeps the whole lines", async () => {
    const { sink, file } = setup();
    await sink.send(records(1, 2));
    await sink.close();
    fs.appendFileSync(file, '{"sequence":3,"recorded_at":"2025-06-01T00:00:00.002Z","kind":"requ');
    const again = new FileSink({ type: "file", path: file, max_bytes: 1024 * 1024, max_files: 3 }, { nodeId: "node-a", baseDir: "/", logger: silentLogger, notify: () => undefined });
    await again.send(records(3, 2));
    expect(lines(file).map((line) => line.sequence)).toEqual([1, 2, 3, 4]);
    await again.close();
  });

  it("rejects when it cannot write (the shipper retries), and writes once the path works again", async () => {
    const { sink, file } = setup();
    fs.mkdirSync(file, { recursive: true });
    await expect(sink.send(records(1, 1))).rejects.toThrow(/EISDIR|illegal operation/);
    expect(sink.confirmed()).toBe(0);
    fs.rmSync(file, { recursive: true });
    await sink.send(records(1, 1));
    expect(lines(file).map((line) => line.sequence)).toEqual([1]);
    await sink.close();
  });
});
