// Saved evaluation states of conversations on disk, so a conversation resumed after a restart is not read again.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { LlamaContextSequence } from "node-llama-cpp";
import { ensurePrivateDirectory, restrictFile, writePrivateFile } from "../../core/private-files.js";

interface StateRecord {
  conversation: string;
  /** Which model, context and llama.cpp build made the state: loading a state from another one can crash llama.cpp. */
  fingerprint: string;
  bytes: number;
  savedAt: number;
}

export class SequenceStateStore {
  constructor(
    private readonly directory: string,
    private readonly maxBytes: number,
    private readonly fingerprint: string,
  ) {
    ensurePrivateDirectory(directory);
  }

  /** The saved state file of a conversation, when there is one made by this model and context. */
  find(conversation: string): string | undefined {
    const record = this.readRecord(conversation);
    if (!record) return undefined;
    if (record.fingerprint !== this.fingerprint || record.conversation !== conversation) {
      this.remove(conversation);
      return undefined;
    }
    return this.statePath(conversation);
  }

  /** Writes the sequence's state for the conversation, then deletes the oldest states beyond the disk budget. */
  async save(conversation: string, sequence: LlamaContextSequence): Promise<void> {
    if (sequence.nextTokenIndex === 0) return;
    const { fileSize } = await sequence.saveStateToFile(this.statePath(conversation));
    // llama.cpp creates the file with the process umask; a conversation's state is as private as its text.
    restrictFile(this.statePath(conversation));
    const record: StateRecord = { conversation, fingerprint: this.fingerprint, bytes: fileSize, savedAt: Date.now() };
    writePrivateFile(this.recordPath(conversation), JSON.stringify(record));
    this.enforceBudget();
  }

  remove(conversation: string): void {
    fs.rmSync(this.statePath(conversation), { force: true });
    fs.rmSync(this.recordPath(conversation), { force: true });
  }

  private enforceBudget(): void {
    const records = this.records().sort((first, second) => first.savedAt - second.savedAt);
    let total = records.reduce((sum, record) => sum + record.bytes, 0);
    for (const record of records) {
      if (total <= this.maxBytes) break;
      this.remove(record.conversation);
      total -= record.bytes;
    }
  }

  private records(): StateRecord[] {
    return fs
      .readdirSync(this.directory)
      .filter((name) => name.endsWith(".json"))
      .flatMap((name) => {
        try {
          return [JSON.parse(fs.readFileSync(path.join(this.directory, name), "utf8")) as StateRecord];
        } catch {
          return [];
        }
      });
  }

  private readRecord(conversation: string): StateRecord | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.recordPath(conversation), "utf8")) as StateRecord;
    } catch {
      return undefined;
    }
  }

  private statePath(conversation: string): string {
    return path.join(this.directory, `${fileStem(conversation)}.state`);
  }

  private recordPath(conversation: string): string {
    return path.join(this.directory, `${fileStem(conversation)}.json`);
  }
}

function fileStem(conversation: string): string {
  return createHash("sha256").update(conversation).digest("hex").slice(0, 32);
}

/**
 * Identifies a model file and context shape cheaply (no hashing of gigabytes): path, size, modification time, and
 * the llama.cpp build (`llamaBuild`), since states are loaded with acceptRisk and their format follows the build.
 */
export function modelFingerprint(modelPath: string, contextSize: number, adapters: readonly { path: string; scale: number }[], build: string): string {
  const stat = fs.statSync(modelPath);
  return JSON.stringify([path.resolve(modelPath), stat.size, stat.mtimeMs, contextSize, adapters.map((adapter) => [adapter.path, adapter.scale]), build]);
}
