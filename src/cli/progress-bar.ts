// A progress bar on stderr (cli-progress) for downloads in bytes or any 0..1 fraction; silent when stderr is no terminal.
import cliProgress from "cli-progress";

export interface ProgressBar {
  /** `update(received, total)` for bytes (total may be unknown), or `update(fraction)` for a 0..1 fraction. */
  update(value: number, total?: number): void;
  /** Ends the bar (idempotent); without a terminal it prints one summary line if anything was reported. */
  stop(): void;
}

export interface ProgressBarOptions {
  /** Where to draw; process.stderr by default. */
  stream?: NodeJS.WriteStream;
  /**
   * "bytes": value/total are byte counts. "fraction": value is 0..1 (or value/total).
   * By default a call with a total is read as bytes and a call without one as a fraction; pass "bytes" when the total may be unknown.
   */
  unit?: "bytes" | "fraction";
}

const fractionScale = 1000;

export function createProgressBar(label: string, options: ProgressBarOptions = {}): ProgressBar {
  const stream = options.stream ?? process.stderr;
  const interactive = stream.isTTY === true;
  const startedAt = Date.now();
  let bar: cliProgress.SingleBar | undefined;
  let mode: "bytes" | "fraction" | undefined = options.unit;
  let firstValue: number | undefined;
  let lastValue = 0;
  let lastTotal: number | undefined;
  let stopped = false;

  function payload(value: number, total: number | undefined): Record<string, string> {
    if (mode === "fraction") return { label, amount: "", rate: "", remaining: "" };
    const seconds = (Date.now() - startedAt) / 1000;
    const speed = seconds > 0 ? (value - (firstValue ?? 0)) / seconds : 0;
    const eta = total !== undefined && speed > 0 ? (total - value) / speed : undefined;
    return {
      label,
      amount: `${formatBytes(value)}${total !== undefined ? ` / ${formatBytes(total)}` : ""}`,
      rate: ` | ${formatBytes(speed)}/s`,
      remaining: eta !== undefined ? ` | ETA ${formatDuration(eta)}` : "",
    };
  }

  return {
    update(value: number, total?: number): void {
      if (stopped) return;
      mode ??= total === undefined ? "fraction" : "bytes";
      firstValue ??= value;
      lastValue = value;
      lastTotal = total;
      if (!interactive) return;
      const [barValue, barTotal] = mode === "fraction" ? [Math.round((total ? value / total : value) * fractionScale), fractionScale] : [value, total ?? 0];
      if (bar === undefined) {
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: barTotal > 0 ? "{label} [{bar}] {percentage}% | {amount}{rate}{remaining}" : "{label} {amount}{rate}",
            barsize: 30,
            hideCursor: false,
            clearOnComplete: false,
            gracefulExit: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(barTotal, barValue, payload(value, total));
        return;
      }
      if (barTotal > 0 && bar.getTotal() !== barTotal) bar.setTotal(barTotal);
      bar.update(barValue, payload(value, total));
    },
    stop(): void {
      if (stopped) return;
      stopped = true;
      if (bar !== undefined) {
        bar.stop();
        return;
      }
      if (interactive || firstValue === undefined) return;
      const seconds = (Date.now() - startedAt) / 1000;
      if (mode === "fraction") {
        stream.write(`${label}: ${Math.round((lastTotal ? lastValue / lastTotal : lastValue) * 100)}% in ${formatDuration(seconds)}\n`);
      } else {
        const transferred = lastValue - firstValue;
        const rate = seconds > 0 ? `, ${formatBytes(transferred / seconds)}/s` : "";
        const amount = `${formatBytes(lastValue)}${lastTotal !== undefined ? ` of ${formatBytes(lastTotal)}` : ""}`;
        stream.write(`${label}: ${amount} in ${formatDuration(seconds)}${rate}\n`);
      }
    },
  };
}

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** Seconds → "42s", "3m05s", "1h02m". */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  if (whole < 60) return `${whole}s`;
  if (whole < 3600) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, "0")}s`;
  return `${Math.floor(whole / 3600)}h${String(Math.floor((whole % 3600) / 60)).padStart(2, "0")}m`;
}
