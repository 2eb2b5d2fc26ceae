// Runs a real Mosquitto broker for tests: a free loopback port, persistence in a temp dir, stop/restart by PID, optional password users and ACL.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort, waitForPort } from "./free-port.js";

const candidates = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto", "/usr/local/opt/mosquitto/sbin/mosquitto"];

/** The mosquitto binary: MOSQUITTO_BIN, then PATH, then the usual sbin directories; undefined when not installed. */
export function findMosquitto(): string | undefined {
  const configured = process.env.MOSQUITTO_BIN;
  if (configured && fs.existsSync(configured)) return configured;
  const onPath = (process.env.PATH ?? "").split(path.delimiter).map((directory) => path.join(directory, "mosquitto"));
  return [...onPath, ...candidates].find((file) => fs.existsSync(file));
}

export const missingMosquittoMessage = "the mosquitto binary is not installed (Debian/Ubuntu: apt-get install mosquitto mosquitto-clients)";

/**
 * The ACL of docs/gateways.md for the given topic prefixes: the node's user reads every request and writes every
 * reply; every other user publishes only on <prefix>/req/<its name> and reads only <prefix>/res/<its name>/#.
 */
export function clawbotAcl(nodeUser: string, prefixes: string[]): string {
  return [
    `user ${nodeUser}`,
    ...prefixes.flatMap((prefix) => [`topic read ${prefix}/req/#`, `topic write ${prefix}/res/#`]),
    "",
    ...prefixes.flatMap((prefix) => [`pattern write ${prefix}/req/%u`, `pattern read ${prefix}/res/%u/#`]),
  ].join("\n");
}

export interface MosquittoOptions {
  /** Password users (name → password): anonymous clients are then refused. */
  users?: Record<string, string>;
  /** The acl_file's content (with users). */
  acl?: string;
}

export class MosquittoBroker {
  private child: ChildProcess | undefined;

  private constructor(
    private readonly binary: string,
    readonly port: number,
    readonly directory: string,
  ) {}

  /** Starts a broker on a free 127.0.0.1 port; fails loudly when mosquitto is missing. */
  static async start(options: MosquittoOptions = {}): Promise<MosquittoBroker> {
    const binary = findMosquitto();
    if (!binary) throw new Error(`Cannot run the MQTT tests: ${missingMosquittoMessage}`);
    const broker = new MosquittoBroker(binary, await freePort(), fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-mosquitto-")));
    broker.writeConfig(options);
    await broker.resume();
    return broker;
  }

  /** Freezes the broker process (SIGSTOP): connections stay open, nothing is read or acknowledged. */
  suspend(): void {
    if (this.child?.pid) process.kill(this.child.pid, "SIGSTOP");
  }

  /** Lets a suspended broker run again (SIGCONT). */
  continue(): void {
    if (this.child?.pid) process.kill(this.child.pid, "SIGCONT");
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
      await Promise.race([waitForPort(this.port, 10_000, "mosquitto"), exited]);
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
    process.kill(child.pid as number, "SIGCONT");
    process.kill(child.pid as number, "SIGTERM");
    const timer = setTimeout(() => child.pid && process.kill(child.pid, "SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    await this.stop();
    fs.rmSync(this.directory, { recursive: true, force: true });
  }

  private writeConfig(options: MosquittoOptions): void {
    const users = Object.entries(options.users ?? {});
    const access: string[] = ["allow_anonymous true"];
    if (users.length > 0) {
      const passwords = path.join(this.directory, "passwd");
      const tool = findMosquittoPasswd(this.binary);
      users.forEach(([name, password], index) => execFileSync(tool, ["-b", ...(index === 0 ? ["-c"] : []), passwords, name, password], { stdio: "pipe" }));
      access.splice(0, 1, "allow_anonymous false", `password_file ${passwords}`);
    }
    if (options.acl !== undefined) {
      fs.writeFileSync(path.join(this.directory, "acl"), `${options.acl}\n`);
      access.push(`acl_file ${path.join(this.directory, "acl")}`);
    }
    const lines = [
      `listener ${this.port} 127.0.0.1`,
      ...access,
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

/** mosquitto_passwd: next to the broker, on PATH, or in /usr/bin. */
function findMosquittoPasswd(binary: string): string {
  const directories = [path.dirname(binary), ...(process.env.PATH ?? "").split(path.delimiter), "/usr/bin", "/usr/local/bin"];
  const found = directories.map((directory) => path.join(directory, "mosquitto_passwd")).find((file) => fs.existsSync(file));
  if (!found) throw new Error("Cannot run the MQTT ACL tests: mosquitto_passwd is not installed (it comes with mosquitto)");
  return found;
}
