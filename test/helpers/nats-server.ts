// Runs a real nats-server with JetStream for tests: a free loopback port, its store in a temp dir, stop/restart by PID.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort, waitForPort } from "./free-port.js";

const candidates = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"];

/** The nats-server binary: NATS_SERVER_BIN, then PATH, then the usual directories; undefined when not installed. */
export function findNatsServer(): string | undefined {
  const configured = process.env.NATS_SERVER_BIN;
  if (configured && fs.existsSync(configured)) return configured;
  const onPath = (process.env.PATH ?? "").split(path.delimiter).map((directory) => path.join(directory, "nats-server"));
  return [...onPath, ...candidates].find((file) => fs.existsSync(file));
}

export const missingNatsServerMessage = "the nats-server binary is not installed (Debian/Ubuntu: apt-get install nats-server)";

export class NatsServer {
  private child: ChildProcess | undefined;
  private output = "";

  private constructor(
    private readonly binary: string,
    readonly port: number,
    readonly directory: string,
  ) {}

  /** Starts `nats-server -js` on a free 127.0.0.1 port; fails loudly when nats-server is missing. */
  static async start(): Promise<NatsServer> {
    const binary = findNatsServer();
    if (!binary) throw new Error(`Cannot run the cluster tests: ${missingNatsServerMessage}`);
    const server = new NatsServer(binary, await freePort(), fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-nats-")));
    await server.resume();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** What the server printed (its log). */
  get log(): string {
    return this.output;
  }

  /** Starts (again) on the same port with the same JetStream store, so streams and buckets survive a restart. */
  async resume(): Promise<void> {
    if (this.child) return;
    const child = spawn(this.binary, ["-js", "-a", "127.0.0.1", "-p", String(this.port), "-sd", this.directory], { stdio: ["ignore", "pipe", "pipe"] });
    const collect = (chunk: Buffer) => void (this.output += chunk.toString("utf8"));
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    child.on("exit", () => {
      if (this.child === child) this.child = undefined;
    });
    this.child = child;
    await waitForPort(this.port, 10_000, "nats-server");
    // JetStream answers a little after the port opens.
    const deadline = Date.now() + 10_000;
    while (!this.output.includes("Server is ready") && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing is answered. */
  suspend(): void {
    if (this.child?.pid) process.kill(this.child.pid, "SIGSTOP");
  }

  continue(): void {
    if (this.child?.pid) process.kill(this.child.pid, "SIGCONT");
  }

  /** Stops the server (SIGTERM) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
    this.child = undefined;
  }

  /** Stops the server and removes its store. */
  async close(): Promise<void> {
    await this.stop();
    fs.rmSync(this.directory, { recursive: true, force: true });
  }
}
