// The error lines llama.cpp logs: it logs the actual reason of a failure (e.g. a truncated tensor) before the call fails.
import { setTimeout as sleep } from "node:timers/promises";

const keptLines = 16;
/** How long to wait for lines still on their way: llama.cpp's log reaches JavaScript after the failed call may have returned. */
const arrivalWaitMs = 1000;
/** Once lines arrive, how long a pause means the failure's lines are all in. */
const settleMs = 20;

export class LlamaErrorLog {
  private readonly lines: string[] = [];
  private total = 0;

  push(line: string): void {
    this.lines.push(line);
    this.total += 1;
    if (this.lines.length > keptLines) this.lines.shift();
  }

  /** A point to read the lines logged after it from (take it before a call that may fail). */
  mark(): number {
    return this.total;
  }

  /** The lines logged after `mark`, oldest first; waits briefly for them when none has arrived yet (only on failures). */
  async since(mark: number): Promise<string[]> {
    const deadline = Date.now() + arrivalWaitMs;
    while (this.total === mark && Date.now() < deadline) await sleep(5);
    for (let seen = -1; seen !== this.total && Date.now() < deadline; ) {
      seen = this.total;
      await sleep(settleMs);
    }
    return this.lines.slice(Math.max(0, this.lines.length - (this.total - mark)));
  }
}

/**
 * The error's message followed by what llama.cpp logged about it, most specific first: "tensor 'blk.2.ffn_gate.weight'
 * data is not within the file bounds, …" rather than only its generic last line "failed to load model".
 */
export function withLlamaReason(error: unknown, lines: readonly string[]): string {
  const message = (error as Error).message;
  // Drop the C function name ("llama_model_load: ") and repeated framing ("error loading model: ").
  const reasons = lines.map((line) => line.replace(/^[\w.]+: /, "").replace(/^error loading model: /, "")).filter((reason) => !message.includes(reason));
  const specific = reasons.filter((reason) => !/^failed to (load|create|initiali[sz]e)\b/i.test(reason));
  const shown = specific.length > 0 ? specific : reasons;
  return shown.length > 0 ? `${message} (llama.cpp: ${[...new Set(shown)].join("; ")})` : message;
}
