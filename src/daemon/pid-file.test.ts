// The pid file: one node per data directory, stale files (dead pid, own pid after a restart, garbage) replaced.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { acquirePidFile, pidFileName, runningNode } from "./pid-file.js";

const directories: string[] = [];
function dataDir(): string {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-pid-"));
  directories.push(directory);
  return directory;
}
afterEach(() => {
  for (const directory of directories.splice(0)) fs.rmSync(directory, { recursive: true, force: true });
});

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid as number;
}

describe("the pid file", () => {
  it("is written 0600 with this pid, names this node while held, and is removed at release", () => {
    const directory = dataDir();
    const file = path.join(directory, pidFileName);
    const held = acquirePidFile(directory);
    expect(fs.readFileSync(file, "utf8")).toBe(`${process.pid}\n`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(runningNode(directory)).toEqual({ pid: process.pid, file });
    expect(held.replacedStalePid).toBeUndefined();
    held.release();
    expect(fs.existsSync(file)).toBe(false);
    expect(runningNode(directory)).toBeUndefined();
    expect(fs.readdirSync(directory)).toEqual([]);
  });

  it("refuses a second node on the same data directory, in this process or another live one", () => {
    const directory = dataDir();
    const held = acquirePidFile(directory);
    expect(() => acquirePidFile(directory)).toThrow(`Another node (pid ${process.pid}) is running on the data directory ${directory}`);
    held.release();

    // The test runner's parent process is alive: a node there holds the directory.
    fs.writeFileSync(path.join(directory, pidFileName), `${process.ppid}\n`);
    expect(runningNode(directory)?.pid).toBe(process.ppid);
    expect(() => acquirePidFile(directory)).toThrow(expect.objectContaining({ code: "storage_error", message: expect.stringContaining(`pid ${process.ppid}`) }));
    expect(fs.readFileSync(path.join(directory, pidFileName), "utf8")).toBe(`${process.ppid}\n`);
  });

  it("replaces the file of a node that is gone, and reports its pid", async () => {
    const directory = dataDir();
    const pid = await deadPid();
    fs.writeFileSync(path.join(directory, pidFileName), `${pid}\n`);
    expect(runningNode(directory)).toBeUndefined();
    const held = acquirePidFile(directory);
    expect(held.replacedStalePid).toBe(pid);
    expect(fs.readFileSync(path.join(directory, pidFileName), "utf8")).toBe(`${process.pid}\n`);
    held.release();
  });

  it("takes a file naming this very process, not held by it, for stale (a container restarted with the same pid)", () => {
    const directory = dataDir();
    fs.writeFileSync(path.join(directory, pidFileName), `${process.pid}\n`);
    expect(runningNode(directory)).toBeUndefined();
    acquirePidFile(directory).release();
  });

  it("takes a file without a pid for stale", () => {
    const directory = dataDir();
    fs.writeFileSync(path.join(directory, pidFileName), "not a pid\n");
    expect(runningNode(directory)).toBeUndefined();
    const held = acquirePidFile(directory);
    expect(held.replacedStalePid).toBeUndefined();
    held.release();
  });

  it("is not removed at release when another node has replaced it meanwhile", () => {
    const directory = dataDir();
    const file = path.join(directory, pidFileName);
    const held = acquirePidFile(directory);
    fs.writeFileSync(file, `${process.ppid}\n`);
    held.release();
    expect(fs.readFileSync(file, "utf8")).toBe(`${process.ppid}\n`);
  });
});
