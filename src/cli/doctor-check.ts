// One finding of `clawbot doctor`: its name, ok / warn / fail, what was seen, and what to do about it; and how findings print.

export type DoctorStatus = "ok" | "warn" | "fail";

export interface DoctorCheck {
  /** Short and stable, e.g. "config", "port 127.0.0.1:8080", "mqtt tcp://broker:1883". */
  name: string;
  status: DoctorStatus;
  message: string;
  /** Exactly what to do; every warn and fail has one. */
  fix?: string;
}

export const ok = (name: string, message: string): DoctorCheck => ({ name, status: "ok", message });
export const warn = (name: string, message: string, fix: string): DoctorCheck => ({ name, status: "warn", message, fix });
export const fail = (name: string, message: string, fix: string): DoctorCheck => ({ name, status: "fail", message, fix });

const marks: Record<DoctorStatus, string> = { ok: "✓", warn: "⚠", fail: "✗" };

/** One line per check, and a "fix:" line under each warning and failure, then a summary line. */
export function formatChecks(checks: readonly DoctorCheck[]): string {
  const lines: string[] = [];
  for (const check of checks) {
    lines.push(`${marks[check.status]} ${check.name}: ${check.message}`);
    if (check.fix) lines.push(`    fix: ${check.fix}`);
  }
  const failed = checks.filter((check) => check.status === "fail").length;
  const warned = checks.filter((check) => check.status === "warn").length;
  lines.push(failed > 0 ? `${failed} failed, ${warned} warning${warned === 1 ? "" : "s"}: fix the ✗ lines before starting the node.` : `Nothing failed (${warned} warning${warned === 1 ? "" : "s"}).`);
  return `${lines.join("\n")}\n`;
}

/** What `--json` prints. */
export function checksJson(checks: readonly DoctorCheck[]): { checks: DoctorCheck[]; ok: boolean } {
  return { checks: checks.map((check) => ({ ...check })), ok: checks.every((check) => check.status !== "fail") };
}
