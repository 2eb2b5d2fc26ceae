// Runs a real Mosquitto broker for tests: a free loopback port, persistence in a temp dir, stop/restart by PID.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const candidates = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto", "/usr/local/opt/mosquitto/sbin/mosquitto"];

/** The mosquitto binary: MOSQUITTO_BIN, then PATH, then the usual sbin directories; undefined when not installed. */
export function findMosquitto(): string | undefined {
  const configured = process.env.MOSQUITTO_BIN;
  if (configured && fs.existsSync(configured)) return configured;
  const onPath = (process.env.PATH ?? "").split(path.delimiter).map((directory) => path.join(directory, "mosquitto"));
  return [...onPath, ...candidates].find((file) => fs.existsSync(file));
}

export const missingMosquittoMessage = "the mosquitto binary is not installed (Debian/Ubuntu: apt-get install mosquitto mosquitto-clients)";

export class MosquittoBroker {
  private child: ChildProcess | undefined;

  private constructor(
    private readonly binary: string,
    readonly port: number,
    readonly directory: string,
  ) {}

  /** Starts a broker on a free 127.0.0.1 port; fails loudly when mosquitto is missing. */
  static async start(): Promise<MosquittoBroker> {
    const binary = findMosquitto();
    if (!binary) throw new Error(`Cannot run the MQTT tests: ${missingMosquittoMessage}`);
    const broker = new MosquittoBroker(binary, await freePort(), fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-mosquitto-")));
    broker.writeConfig();
    await broker.resume();
    return broker;
  }

  get url(): string {
    return `tcp://127.0.0.1:${this.port}`;
  }

  get log(): string {
    const file = path.join(this.directory, "mosquitto.log");
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  }

  /** Starts (again) on the same port with the same persistence file, so queued messages survive a restart. */
  async resume(): Promise<void> {
    if (this.child) return;
    const child = spawn(this.binary, ["-c", path.join(this.directory, "mosquitto.conf")], { stdio: ["ignore", "ignore", "pipe"] });
    this.child = child;
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<never>((_resolve, reject) =>
      child.once("exit", (code) => reject(new Error(`mosquitto exited with ${code} before accepting connections: ${stderr}${this.log}`))),
    );
    try {
      await Promise.race([waitForPort(this.port, 10_000), exited]);
    } catch (error) {
      this.child = undefined;
      throw error;
    }
  }

  /** SIGTERM by PID (mosquitto saves its persistence file on the way out), then waits for the exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    process.kill(child.pid as number, "SIGTERM");
    const timer = setTimeout(() => child.pid && process.kill(child.pid, "SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    await this.stop();
    fs.rmSync(this.directory, { recursive: true, force: true });
  }

  private writeConfig(): void {
    const lines = [
      `listener ${this.port} 127.0.0.1`,
      "allow_anonymous true",
      "persistence true",
      `persistence_location ${this.directory}/`,
      "persistence_file mosquitto.db",
      "autosave_interval 1",
      "max_queued_messages 100000",
      `log_dest file ${path.join(this.directory, "mosquitto.log")}`,
      "log_type error",
      "log_type warning",
      "log_type notice",
      "log_type information",
      // Started as root, mosquitto would switch to the "mosquitto" user, which cannot write our temp dir.
      ...(process.getuid?.() === 0 ? ["user root"] : []),
    ];
    fs.writeFileSync(path.join(this.directory, "mosquitto.conf"), `${lines.join("\n")}\n`);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
