// Running as a service the README's way (the installed binary, not npx): SIGTERM to that process stops the node and
// frees its port, since the binary runs the node in its own process; a node whose parent dies keeps serving.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { freePort, removeTempDirs, repositoryRoot, sandboxEnv, tempDir } from "./helpers/cli-process.js";

const binary = path.join(repositoryRoot, "bin", "clawbot.js");
/** Nodes this file started, with their config file: one still running after a test is killed, never a reused pid. */
const started: { pid: number; config: string }[] = [];

afterEach(() => {
  for (const { pid, config } of started.splice(0)) {
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(config)) process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

afterAll(() => removeTempDirs());

/** A folder with an echo-engine config on a free port and `node_modules/.bin/clawbot`, linked as npm links a package's bin. */
async function serviceFolder(): Promise<{ root: string; config: string; port: number; installedBinary: string; env: NodeJS.ProcessEnv }> {
  const root = tempDir("clawbot-service-");
  const port = await freePort();
  const config = path.join(root, "clawbot.yaml");
  fs.writeFileSync(config, `agent: {engine: echo, data_dir: ./data}\ngateways: [{type: websocket, port: ${port}}]\n`);
  const installedBinary = path.join(root, "node_modules", ".bin", "clawbot");
  fs.mkdirSync(path.dirname(installedBinary), { recursive: true });
  fs.symlinkSync(binary, installedBinary);
  // The shebang (#!/usr/bin/env node) finds node on PATH, as it does under systemd.
  const env = { ...process.env, ...sandboxEnv(root), PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ""}` };
  return { root, config, port, installedBinary, env };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Pids whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  return fs
    .readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        // Field 4 of /proc/PID/stat is the parent pid; the command name (field 2) is in parentheses and may hold spaces.
        const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

describe("a node run as a service", () => {
  it("node_modules/.bin/clawbot start: the node is that process, and SIGTERM to it drains, exits 0 and closes the port", async () => {
    const { root, config, port, installedBinary, env } = await serviceFolder();
    const child = spawn(installedBinary, ["start", "--config", config], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    started.push({ pid: child.pid!, config });
    const exit = exited(child);
    let output = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    await until(() => output.includes("Clawbot is ready"), `the node is ready:\n${output}`);
    expect(await accepts(port)).toBe(true);
    // No child process serves in its place: SIGTERM reaches the node itself, and nothing is left to orphan.
    if (process.platform === "linux") expect(childrenOf(child.pid!)).toEqual([]);

    child.kill("SIGTERM");
    expect(await exit).toEqual({ code: 0, signal: null });
    expect(output).toMatch(/shutting down: draining in-flight requests/);
    expect(await accepts(port)).toBe(false);
  });

  it("keeps serving after the process that started it exits, until SIGTERM to its own pid stops it", async () => {
    const { root, config, port, env } = await serviceFolder();
    const log = path.join(root, "clawbot.log");
    // A shell starts the node in the background and exits at once: the node outlives its parent.
    const shell = spawn("/bin/sh", ["-c", '"$0" start --config "$1" >"$2" 2>&1 & echo $!', binary, config, log], { cwd: root, env, stdio: ["ignore", "pipe", "inherit"] });
    let printed = "";
    shell.stdout!.setEncoding("utf8").on("data", (chunk: string) => (printed += chunk));
    expect(await exited(shell)).toEqual({ code: 0, signal: null });
    const pid = Number(printed.trim());
    started.push({ pid, config });
    await until(() => fs.existsSync(log) && fs.readFileSync(log, "utf8").includes("Clawbot is ready"), "the orphaned node is ready");
    expect(await accepts(port)).toBe(true);

    process.kill(pid, "SIGTERM");
    await until(async () => !(await accepts(port)), "the port closes");
    await until(() => fs.readFileSync(log, "utf8").includes('"msg":"stopped"'), "the node logs that it stopped");
  });
});
