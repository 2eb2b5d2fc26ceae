// Runs the real `clawbot` command (node bin/clawbot.js) as child processes for end-to-end tests.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const binary = path.join(repositoryRoot, "bin", "clawbot.js");

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliProcess {
  readonly child: ChildProcess;
  /** Everything written so far. */
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Settles when the process has exited and its output streams have closed. */
  readonly exited: Promise<Exit>;
  /** Resolves with the match once stdout (or stderr) matches; rejects on timeout or when the process exits first. */
  waitFor(pattern: RegExp, options?: { stream?: "stdout" | "stderr"; timeoutMs?: number }): Promise<RegExpMatchArray>;
  /** The output so far, for failure messages. */
  describe(): string;
}

export interface SpawnOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed; stdin is closed at once when left out. */
  stdin?: string;
  /** The `clawbot` script to run: this repository's bin/clawbot.js by default (e.g. an installed package's instead). */
  binary?: string;
}

const running = new Set<CliProcess>();
// Last resort if the test process itself goes away without reaching afterEach.
process.once("exit", () => {
  for (const cli of running) cli.child.kill("SIGKILL");
});

/** Starts `clawbot <args>`; every process started here is tracked until killAll() (call it in afterEach). */
export function spawnCli(args: string[], options: SpawnOptions): CliProcess {
  const child = spawn(process.execPath, [options.binary ?? binary, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const watchers = new Set<() => void>();
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    for (const watcher of [...watchers]) watcher();
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
    for (const watcher of [...watchers]) watcher();
  });
  child.stdin!.on("error", () => undefined);
  child.stdin!.end(options.stdin ?? "");

  const exited = new Promise<Exit>((resolve) => {
    child.once("error", () => resolve({ code: null, signal: null }));
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
    running.delete(handle);
    for (const watcher of [...watchers]) watcher();
  });

  const describe = () => `command: clawbot ${args.join(" ")}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;

  const handle: CliProcess = {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    describe,
    waitFor(pattern, { stream = "stdout", timeoutMs = 30_000 } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = (stream === "stdout" ? stdout : stderr).match(pattern);
          if (match) return finish(() => resolve(match));
          if (hasExited) return finish(() => reject(new Error(`exited before ${stream} matched ${pattern}\n${describe()}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`timed out waiting for ${stream} to match ${pattern}\n${describe()}`))), timeoutMs);
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          watchers.delete(check);
          settle();
        };
        watchers.add(check);
        check();
      });
    },
  };
  running.add(handle);
  return handle;
}

/** Runs `clawbot <args>` to completion and returns its exit code and output. */
export async function runCli(args: string[], options: SpawnOptions & { timeoutMs?: number }): Promise<Exit & { stdout: string; stderr: string }> {
  const cli = spawnCli(args, options);
  const timeoutMs = options.timeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`clawbot did not exit within ${timeoutMs} ms\n${cli.describe()}`)), timeoutMs);
  });
  try {
    const exit = await Promise.race([cli.exited, timeout]);
    return { ...exit, stdout: cli.stdout(), stderr: cli.stderr() };
  } finally {
    clearTimeout(timer);
  }
}

/** SIGKILLs every process spawnCli started that is still running, and waits for them to go. */
export async function killAll(): Promise<void> {
  const left = [...running];
  for (const cli of left) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill("SIGKILL");
  }
  await Promise.all(left.map((cli) => cli.exited));
}

export { freePort } from "./free-port.js";

const tempDirs: string[] = [];

/** A fresh temporary directory, removed by removeTempDirs(). */
export function tempDir(prefix = "clawbot-cli-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Removes every directory tempDir() made (call it in afterAll, after killAll()). */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** Environment that keeps the CLI's own files (secret, sessions, model cache) inside `root`, away from the real home. */
export function sandboxEnv(root: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    HOME: path.join(root, "home"),
    CLAWBOT_HOME: path.join(root, "clawbot-home"),
    CLAWBOT_MODELS: path.join(root, "models-cache"),
    XDG_CACHE_HOME: path.join(root, "xdg-cache"),
    CLAWBOT_DEFAULT_MODEL: "",
    CLAWBOT_TOKEN: "",
    NO_COLOR: "1",
    ...extra,
  };
}

/** The lines `clawbot start` prints once it serves: the WebSocket and HTTP URLs, and a token when a gateway uses JWT with a secret. */
export interface ReadyInfo {
  /** The websocket and http gateway URLs, when those gateways are configured. */
  wsUrl: string | undefined;
  httpUrl: string | undefined;
  token: string | undefined;
  chatLine: string | undefined;
  /** The `Web:` line: the web chat's URL with the token in its fragment. */
  webLine: string | undefined;
}

export async function waitUntilReady(cli: CliProcess, timeoutMs = 30_000): Promise<ReadyInfo> {
  await cli.waitFor(/^Clawbot is ready.*\n(?:  .*\n)*/m, { timeoutMs });
  // The ready block is written in one call, so the lines after it are there too.
  const out = cli.stdout();
  const wsUrl = out.match(/^ {2}websocket (wss?:\/\/127\.0\.0\.1:\d+\/\S*)$/m)?.[1];
  const httpUrl = out.match(/^ {2}http (https?:\/\/127\.0\.0\.1:\d+\/v1)$/m)?.[1];
  if (!wsUrl && !httpUrl) throw new Error(`ready, but no websocket or http URL line\n${cli.describe()}`);
  return {
    wsUrl,
    httpUrl,
    token: out.match(/^ {2}token \([^)]+\): (\S+)$/m)?.[1],
    chatLine: out.match(/^Chat: .*$/m)?.[0],
    webLine: out.match(/^Web: .*$/m)?.[0],
  };
}
