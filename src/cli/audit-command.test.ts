// Tests for `clawbot audit verify|export` in-process: where the ledger is found, exit codes, time arguments.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AuditLedger } from "../audit/audit-ledger.js";
import { parseTimeArgument } from "../audit/audit-database.js";
import { openDatabase } from "../store/database.js";
import { registerAuditCommand } from "./audit-command.js";

let scratch: string;
let stdout: string;
let stderr: string;
const originalHome = process.env.CLAWBOT_HOME;

async function runCli(...args: string[]): Promise<number> {
  const program = new Command("clawbot").exitOverride();
  registerAuditCommand(program);
  process.exitCode = undefined;
  try {
    await program.parseAsync(["node", "clawbot", "audit", ...args]);
  } catch (error) {
    if (error instanceof ExitCalled) return error.code;
    throw error;
  }
  return Number(process.exitCode ?? 0);
}

class ExitCalled extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** A ledger of `count` records under dir. */
function ledgerIn(dir: string, count: number): void {
  const database = openDatabase(dir);
  const ledger = new AuditLedger(database);
  for (let index = 0; index < count; index += 1) ledger.append("request", { input: `question ${index}` });
  database.close();
}

beforeEach(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-audit-cli-"));
  stdout = "";
  stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  vi.spyOn(process, "exit").mockImplementation((code?: string | number | null) => {
    throw new ExitCalled(Number(code ?? 0));
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
  if (originalHome === undefined) delete process.env.CLAWBOT_HOME;
  else process.env.CLAWBOT_HOME = originalHome;
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe("clawbot audit", () => {
  it("verify finds the data directory as start does: --data-dir, the config's agent.data_dir (relative to it), $CLAWBOT_HOME/data", async () => {
    ledgerIn(path.join(scratch, "explicit"), 1);
    expect(await runCli("verify", "--data-dir", path.join(scratch, "explicit"))).toBe(0);
    expect(stdout).toContain("records: 1");

    fs.mkdirSync(path.join(scratch, "etc"));
    ledgerIn(path.join(scratch, "etc", "state"), 2);
    fs.writeFileSync(path.join(scratch, "etc", "clawbot.yaml"), "agent:\n  engine: echo\n  data_dir: ./state\n");
    stdout = "";
    expect(await runCli("verify", "-c", path.join(scratch, "etc", "clawbot.yaml"), "--json")).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ ok: true, data_dir: path.join(scratch, "etc", "state"), records: 2 });

    process.env.CLAWBOT_HOME = path.join(scratch, "home");
    ledgerIn(path.join(scratch, "home", "data"), 3);
    stdout = "";
    const cwd = process.cwd();
    process.chdir(scratch);
    try {
      expect(await runCli("verify", "--json")).toBe(0);
    } finally {
      process.chdir(cwd);
    }
    expect(JSON.parse(stdout)).toMatchObject({ data_dir: path.join(scratch, "home", "data"), records: 3 });
  });

  it("verify exits 1 naming the bad sequence, 2 when there is no ledger or the usage is wrong", async () => {
    const dir = path.join(scratch, "node");
    ledgerIn(dir, 4);
    const database = openDatabase(dir);
    database.prepare("UPDATE audit_records SET body = ? WHERE sequence = 3").run(JSON.stringify({ input: "question 9" }));
    database.close();
    expect(await runCli("verify", "--data-dir", dir)).toBe(1);
    expect(stdout).toContain("BROKEN at sequence 3 (changed)");
    expect(await runCli("verify", "--data-dir", path.join(scratch, "nothing-here"))).toBe(2);
    expect(stderr).toContain("no database at");
    expect(await runCli("verify", "--no-such-option")).toBe(2);
    expect(await runCli("export", "--data-dir", dir)).toBe(2);
    expect(stderr).toMatch(/--since/);
    expect(await runCli("export", "--data-dir", dir, "--since", "1h", "--format", "csv")).toBe(2);
    expect(stderr).toContain("expected jsonl");
  });

  it("export writes only the records in [since, until)", async () => {
    const dir = path.join(scratch, "node");
    ledgerIn(dir, 2);
    expect(await runCli("export", "--data-dir", dir, "--since", "1h")).toBe(0);
    expect(stdout.trim().split("\n").map((line) => (JSON.parse(line) as { sequence: number }).sequence)).toEqual([1, 2]);
    stdout = "";
    expect(await runCli("export", "--data-dir", dir, "--since", "2000-01-01", "--until", "2000-01-02")).toBe(0);
    expect(stdout).toBe("");
  });
});

describe("parseTimeArgument", () => {
  const now = Date.parse("2026-03-02T12:00:00Z");
  it("reads durations before now and ISO 8601 dates and times", () => {
    expect(parseTimeArgument("24h", now)).toBe(Date.parse("2026-03-01T12:00:00Z"));
    expect(parseTimeArgument("90s", now)).toBe(now - 90_000);
    expect(parseTimeArgument("15m", now)).toBe(now - 900_000);
    expect(parseTimeArgument("2w", now)).toBe(now - 14 * 86_400_000);
    expect(parseTimeArgument("2026-03-01", now)).toBe(Date.parse("2026-03-01T00:00:00Z"));
    expect(parseTimeArgument("2026-03-01T08:00:00+08:00", now)).toBe(Date.parse("2026-03-01T00:00:00Z"));
    expect(parseTimeArgument("2026-03-01T08:00:00.5Z", now)).toBe(Date.parse("2026-03-01T08:00:00.500Z"));
  });

  it("refuses anything else", () => {
    for (const text of ["yesterday", "", "24", "1y", "2026-13-45", "03/01/2026", "-1h"]) expect(() => parseTimeArgument(text, now), text).toThrow(/is not a time/);
  });
});
