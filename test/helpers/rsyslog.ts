// Runs a real rsyslogd for tests: imtcp on a free loopback port, its own config and work directory, every message written raw to a file.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort, waitForPort } from "./free-port.js";

const candidates = ["/usr/sbin/rsyslogd", "/usr/local/sbin/rsyslogd", "/sbin/rsyslogd"];

/** The rsyslogd binary: RSYSLOGD_BIN, then PATH, then the usual sbin directories; undefined when not installed. */
export function findRsyslogd(): string | undefined {
  const configured = process.env.RSYSLOGD_BIN;
  if (configured && fs.existsSync(configured)) return configured;
  const onPath = (process.env.PATH ?? "").split(path.delimiter).map((directory) => path.join(directory, "rsyslogd"));
  return [...onPath, ...candidates].find((file) => fs.existsSync(file));
}

export const missingRsyslogMessage = "the rsyslogd binary is not installed (Debian/Ubuntu: apt-get install rsyslog)";

/** One message as the receiver wrote it, with the fields of Clawbot's structured data. */
export interface ReceivedSyslogMessage {
  raw: string;
  msgId: string;
  seq: number;
  hash: string;
  /** MSG parsed as JSON. */
  record: Record<string, unknown>;
}

export class RsyslogReceiver {
  private child: ChildProcess | undefined;
  private stderr = "";

  private constructor(
    private readonly binary: string,
    readonly port: number,
    readonly directory: string,
  ) {}

  /** Starts rsyslogd (in the foreground, as a child) on a free 127.0.0.1 port; fails loudly when it is missing. */
  static async start(): Promise<RsyslogReceiver> {
    const binary = findRsyslogd();
    if (!binary) throw new Error(`Cannot run the syslog tests: ${missingRsyslogMessage}`);
    const receiver = new RsyslogReceiver(binary, await freePort(), fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-rsyslog-")));
    receiver.writeConfig();
    await receiver.resume();
    return receiver;
  }

  get url(): string {
    return `tcp://127.0.0.1:${this.port}`;
  }

  get outputFile(): string {
    return path.join(this.directory, "received.log");
  }

  /** Every message written so far, one per line as rsyslog received it (the octet count stripped). */
  lines(): string[] {
    return fs.existsSync(this.outputFile) ? fs.readFileSync(this.outputFile, "utf8").split("\n").filter(Boolean) : [];
  }

  /** The messages carrying Clawbot's structured data, parsed. */
  messages(): ReceivedSyslogMessage[] {
    return this.lines().flatMap((raw) => {
      const match = / (\S+) \[clawbot@32473 seq="(\d+)" hash="([0-9a-f]+)"[^\]]*\] (\{.*\})$/.exec(raw);
      if (!match) return [];
      return [{ raw, msgId: match[1] as string, seq: Number(match[2]), hash: match[3] as string, record: JSON.parse(match[4] as string) as Record<string, unknown> }];
    });
  }

  /** Starts (again) on the same port, appending to the same output file. */
  async resume(): Promise<void> {
    if (this.child) return;
    const child = spawn(this.binary, ["-n", "-f", path.join(this.directory, "rsyslog.conf"), "-i", path.join(this.directory, "rsyslogd.pid")], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    this.child = child;
    child.stderr?.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    const exited = new Promise<never>((_resolve, reject) =>
      child.once("exit", (code, signal) => reject(new Error(`rsyslogd exited (${code ?? signal}) before accepting connections: ${this.stderr}`))),
    );
    try {
      await Promise.race([waitForPort(this.port, 10_000, "rsyslogd"), exited]);
    } catch (error) {
      this.child = undefined;
      throw error;
    }
  }

  /** Kills the receiver by PID (SIGKILL by default: whatever it had not written is gone) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    process.kill(child.pid as number, signal);
    await exited;
    fs.rmSync(path.join(this.directory, "rsyslogd.pid"), { force: true });
  }

  async close(): Promise<void> {
    await this.stop();
    fs.rmSync(this.directory, { recursive: true, force: true });
  }

  private writeConfig(): void {
    const work = path.join(this.directory, "work");
    fs.mkdirSync(work);
    // Only imtcp: no imuxsock or imklog, so it reads nothing of the host's own logs. Messages up to 1 MB (the
    // default 8 kB would cut records with long texts).
    const lines = [
      `global(workDirectory="${work}" maxMessageSize="1m")`,
      'module(load="imtcp")',
      'template(name="clawbotRaw" type="string" string="%rawmsg%\\n")',
      'ruleset(name="clawbotAudit") {',
      `  action(type="omfile" file="${this.outputFile}" template="clawbotRaw")`,
      "}",
      `input(type="imtcp" address="127.0.0.1" port="${this.port}" ruleset="clawbotAudit")`,
    ];
    fs.writeFileSync(path.join(this.directory, "rsyslog.conf"), `${lines.join("\n")}\n`);
  }
}
