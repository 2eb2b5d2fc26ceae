// Starts a real `clawbot start --config` child process (echo engine, JWT auth) for hostile-client tests, and checks it survived.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import WebSocket from "ws";
import { isErrorCode } from "../../src/core/errors.js";
import { issueToken } from "../../src/security/jwt-issuer.js";
import { freePort, sandboxEnv, spawnCli, tempDir, waitUntilReady, type CliProcess } from "./cli-process.js";

export interface HostileNodeOptions {
  /** Extra keys for the websocket gateway entry (max_payload, auth_timeout, …). */
  websocket?: Record<string, unknown>;
  /** Extra keys for the http gateway entry (max_body, …). */
  http?: Record<string, unknown>;
  /** More gateway entries; the string "${secret}" in them is replaced by the node's JWT secret. */
  gateways?: Record<string, unknown>[];
  /** Extra agent keys (max_tokens, parallel, max_queue, …); the engine is always echo. */
  agent?: Record<string, unknown>;
  /** Extra top-level config keys (limits, sessions, …). */
  config?: Record<string, unknown>;
  /** Environment for the child (for instance a raised file-descriptor limit is inherited, not set here). */
  env?: NodeJS.ProcessEnv;
  logLevel?: string;
}

export interface HostileNode {
  readonly cli: CliProcess;
  readonly port: number;
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly secret: string;
  readonly directory: string;
  /** A valid token for `subject`, signed with the node's secret. */
  token(subject?: string, ttl?: string): Promise<string>;
  /** True while the child process has not exited. */
  alive(): boolean;
  /** Throws with the node's output when the child has exited. */
  assertAlive(when: string): void;
  /** Waits up to `milliseconds` for the child to exit (a crash takes a moment to be seen); resolves alive(). */
  stillAliveAfter(milliseconds: number): Promise<boolean>;
  /** Resident set size of the node process in bytes (Linux /proc). */
  rssBytes(): number;
  close(): Promise<void>;
}

/** Spawns the node with a websocket + http gateway on one loopback port (plus `options.gateways`) and waits until it is ready. */
export async function startHostileNode(options: HostileNodeOptions = {}): Promise<HostileNode> {
  const directory = tempDir("clawbot-hostile-");
  const secret = randomBytes(32).toString("base64url");
  const port = await freePort();
  const auth = { type: "jwt", secret };
  const withSecret = (entry: Record<string, unknown>) => JSON.parse(JSON.stringify(entry).replaceAll("${secret}", secret)) as Record<string, unknown>;
  const config = {
    agent: { engine: "echo", data_dir: "./data", max_tokens: 64, ...options.agent },
    gateways: [
      { type: "websocket", port, auth, ...options.websocket },
      { type: "http", port, auth, ...options.http },
      ...(options.gateways ?? []).map(withSecret),
    ],
    shutdown_grace: 1,
    log_level: options.logLevel ?? "warn",
    ...options.config,
  };
  const configFile = path.join(directory, "clawbot.yaml");
  // JSON is YAML: no quoting surprises in secrets or paths.
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  const cli = spawnCli(["start", "--config", configFile], { cwd: directory, env: { ...sandboxEnv(directory), ...options.env } });
  await waitUntilReady(cli, 60_000);
  const alive = () => cli.child.exitCode === null && cli.child.signalCode === null;
  return {
    cli,
    port,
    httpUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/`,
    secret,
    directory,
    token: (subject = "alice", ttl = "1h") => issueToken({ secret, subject, roles: ["user"], ttl }),
    alive,
    assertAlive(when: string) {
      if (!alive()) throw new Error(`the node exited (${cli.child.exitCode ?? cli.child.signalCode}) ${when}\n${cli.describe().slice(-6000)}`);
    },
    async stillAliveAfter(milliseconds: number) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([cli.exited, new Promise((resolve) => (timer = setTimeout(resolve, milliseconds)))]);
      clearTimeout(timer);
      return alive();
    },
    rssBytes: () => residentBytes(cli.child.pid as number),
    async close() {
      if (alive()) cli.child.kill("SIGKILL");
      await cli.exited;
    },
  };
}

/** VmRSS of a process, from /proc/<pid>/status, in bytes. */
export function residentBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kilobytes = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (!kilobytes) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kilobytes) * 1024;
}

/** True when `code` is one of the codes in src/core/errors.ts. */
export function isCoded(code: unknown): boolean {
  return typeof code === "string" && isErrorCode(code);
}

/**
 * A well-behaved WebSocket client asks one question and must get the echo of it back in full (with a generous
 * deadline: this checks service, not speed). Fails with the node's output otherwise.
 */
export async function expectWebsocketServed(node: HostileNode, message = `normal client ${Date.now()}`, deadlineMs = 30_000): Promise<void> {
  node.assertAlive("before the normal WebSocket client");
  const token = await node.token("normal-user");
  const socket = new WebSocket(node.wsUrl, { headers: { authorization: `Bearer ${token}` } });
  try {
    const answer = await new Promise<{ deltas: string; finish: Record<string, unknown> }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer within ${deadlineMs} ms`)), deadlineMs);
      let deltas = "";
      socket.once("error", (error) => reject(error));
      socket.once("unexpected-response", (_request, response) => reject(new Error(`upgrade refused: HTTP ${response.statusCode}`)));
      socket.once("close", (code) => reject(new Error(`closed with ${code} before the answer`)));
      socket.once("open", () => socket.send(JSON.stringify({ type: "chat", id: "normal", message })));
      socket.on("message", (data) => {
        const frame = JSON.parse(String(data)) as Record<string, unknown>;
        if (frame.id !== "normal") return;
        if (frame.type === "text-delta") deltas += String(frame.text);
        if (frame.type === "finish" || frame.type === "error") {
          clearTimeout(timer);
          resolve({ deltas, finish: frame });
        }
      });
    });
    if (answer.finish.type !== "finish" || answer.finish.text !== message || answer.deltas !== message) {
      throw new Error(`the normal client got ${JSON.stringify(answer.finish)} (deltas ${JSON.stringify(answer.deltas)}), expected the echo of ${JSON.stringify(message)}`);
    }
  } catch (error) {
    throw new Error(`a normal WebSocket client was not served: ${(error as Error).message}\n${node.cli.describe().slice(-6000)}`);
  } finally {
    socket.terminate();
  }
}

/** A well-behaved OpenAI-style HTTP client must get its echo back (non-streaming). */
export async function expectHttpServed(node: HostileNode, message = `normal http client ${Date.now()}`, deadlineMs = 30_000): Promise<void> {
  node.assertAlive("before the normal HTTP client");
  const token = await node.token("normal-user");
  try {
    const response = await fetch(`${node.httpUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: message }] }),
      signal: AbortSignal.timeout(deadlineMs),
    });
    const body = (await response.json()) as { choices?: { message?: { content?: string } }[] };
    if (response.status !== 200 || body.choices?.[0]?.message?.content !== message) {
      throw new Error(`HTTP ${response.status} ${JSON.stringify(body)}`);
    }
  } catch (error) {
    throw new Error(`a normal HTTP client was not served: ${(error as Error).message}\n${node.cli.describe().slice(-6000)}`);
  }
}
