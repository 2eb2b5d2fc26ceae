// Progress of `kb ingest` and `kb embed` on stderr: a cli-progress bar on a terminal, else a line every few seconds.
import cliProgress from "cli-progress";
import type { IngestProgress } from "../knowledge/ingest.js";
import { formatBytes, formatDuration } from "./progress-bar.js";

export interface ProgressView<Progress> {
  update(progress: Progress): void;
  stop(): void;
}

/** Seconds between progress lines when stderr is not a terminal. */
const lineInterval = 2;

function view<Progress>(
  stream: NodeJS.WriteStream,
  describe: (progress: Progress) => { value: number; total: number; text: string },
  label: string,
): ProgressView<Progress> {
  let bar: cliProgress.SingleBar | undefined;
  let lastLine = Date.now();
  let stopped = false;
  return {
    update(progress) {
      if (stopped) return;
      const { value, total, text } = describe(progress);
      if (stream.isTTY !== true) {
        if (Date.now() - lastLine < lineInterval * 1000) return;
        lastLine = Date.now();
        stream.write(`${label}: ${text}\n`);
        return;
      }
      if (!bar) {
        bar = new cliProgress.SingleBar(
          { stream, format: `${label} [{bar}] {percentage}% | {text}`, barsize: 30, hideCursor: false, clearOnComplete: false, gracefulExit: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(Math.max(1, total), value, { text });
      } else bar.update(value, { text });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar?.stop();
    },
  };
}

/** Documents, chunks, bytes read of the total, documents per second, ETA. */
export function ingestProgressView(stream: NodeJS.WriteStream = process.stderr): ProgressView<IngestProgress> {
  return view(
    stream,
    (progress) => {
      const percent = progress.totalBytes > 0 ? ` (${Math.floor((progress.bytesRead / progress.totalBytes) * 100)}%)` : "";
      const eta = progress.etaSeconds !== undefined ? `, ETA ${formatDuration(progress.etaSeconds)}` : "";
      return {
        value: progress.bytesRead,
        total: progress.totalBytes,
        text:
          `${progress.documents} documents, ${progress.chunks} chunks, ${formatBytes(progress.bytesRead)} of ${formatBytes(progress.totalBytes)}${percent}, ` +
          `${Math.round(progress.rate)} documents/s${eta}`,
      };
    },
    "kb ingest",
  );
}

/** Vectors written of the chunks that had none. */
export function embedProgressView(stream: NodeJS.WriteStream = process.stderr): ProgressView<{ vectors: number; total: number }> {
  return view(stream, (progress) => ({ value: progress.vectors, total: progress.total, text: `${progress.vectors} of ${progress.total} vectors` }), "kb embed");
}
