// The store at start: a damaged or unreadable database refuses to start with a message naming the file and the way back; files are private.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { configSchema } from "../src/config/schema.js";
import { createDaemon } from "../src/daemon/daemon.js";
import { silentLogger } from "../src/logging/logger.js";
import { startTestNode } from "./helpers/test-node.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

const temporaryDirectory = () => fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-store-"));

function startEcho(dataDir: string, logger = silentLogger) {
  const config = configSchema.parse({ agent: { engine: "echo", data_dir: dataDir }, gateways: [{ type: "websocket", port: 0 }], metrics: { port: 0 } });
  return createDaemon({ config, baseDir: dataDir, logger });
}

/** A data directory whose database holds a few hundred stored exchanges (many pages). */
async function populatedDataDir(): Promise<string> {
  const node = await startTestNode({ agent: { engine: "echo" } });
  for (let turn = 0; turn < 300; turn += 1) node.daemon.sessions.appendExchange("alice", `s${turn % 7}`, `question ${turn} `.repeat(20), `answer ${turn} `.repeat(20));
  await node.close();
  return node.dataDir;
}

/** Runs openDatabase in a child process as user `nobody` (the tests run as root, whom file permissions do not stop). */
function openAsNobody(dataDir: string): string {
  const script = `import { openDatabase } from ${JSON.stringify(path.resolve("src/store/database.ts"))};
try { openDatabase(process.argv[1]).close(); console.log("opened"); } catch (error) { console.log(error.message); }`;
  const result = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, dataDir], { uid: 65534, gid: 65534, encoding: "utf8" });
  return result.stdout.trim() || result.stderr;
}

describe("the store at start", () => {
  it("refuses a database with overwritten pages, naming the file and the way back", async () => {
    const dataDir = await populatedDataDir();
    const file = path.join(dataDir, "clawbot.db");
    const size = fs.statSync(file).size;
    expect(size).toBeGreaterThan(16 * 4096);
    // Overwrite pages in the middle of the file (not the header) with garbage.
    const handle = fs.openSync(file, "r+");
    fs.writeSync(handle, Buffer.alloc(8 * 4096, 0xa5), 0, 8 * 4096, 4 * 4096);
    fs.closeSync(handle);
    const failure = startEcho(dataDir);
    await expect(failure).rejects.toThrow(`Cannot open the database ${file}: the database is damaged (quick_check:`);
    await expect(failure).rejects.toThrow(`Restore ${file} from a backup, or stop the node and move it aside`);
  });

  it("names a file that is not a database", async () => {
    const dataDir = await populatedDataDir();
    const file = path.join(dataDir, "clawbot.db");
    const handle = fs.openSync(file, "r+");
    fs.writeSync(handle, Buffer.from("this is not an SQLite header at all"), 0, 32, 0);
    fs.closeSync(handle);
    await expect(startEcho(dataDir)).rejects.toThrow(`Cannot open the database ${file}: the file is not an SQLite database`);
  });

  it("names the file and the cause when it cannot be opened: read-only directory, permissions, not a file", async () => {
    const readOnly = temporaryDirectory();
    fs.chmodSync(readOnly, 0o555);
    expect(openAsNobody(readOnly)).toBe(
      `Cannot open the database ${readOnly}/clawbot.db: its directory ${readOnly} is read-only or not writable by this user ` +
        "(SQLite needs to create files next to the database). Fix the permissions, or set agent.data_dir to a directory this user can write.",
    );
    const unreadable = temporaryDirectory();
    fs.chmodSync(unreadable, 0o777);
    fs.writeFileSync(path.join(unreadable, "clawbot.db"), "", { mode: 0o600 });
    expect(openAsNobody(unreadable)).toMatch(`Cannot open the database ${unreadable}/clawbot.db: the file's permissions do not let this user read and write it.`);
    const directory = temporaryDirectory();
    fs.mkdirSync(path.join(directory, "clawbot.db"));
    await expect(startEcho(directory)).rejects.toThrow(`Cannot open the database ${directory}/clawbot.db: it is not a regular file.`);
  });

  it("creates the data directory 0700 and the database files 0600, and warns about a wider directory", async () => {
    const dataDir = path.join(temporaryDirectory(), "new", "data");
    const node = await startTestNode({ agent: { engine: "echo" }, dataDir });
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    await client.chat("stored", "something to store", {}, "modes");
    const mode = (file: string) => fs.statSync(file).mode & 0o777;
    expect(mode(dataDir)).toBe(0o700);
    for (const name of ["clawbot.db", "clawbot.db-wal", "clawbot.db-shm"]) expect([name, mode(path.join(dataDir, name))]).toEqual([name, 0o600]);
    client.close();
    await node.close();

    const wide = temporaryDirectory();
    fs.chmodSync(wide, 0o755);
    const lines: { level: number; msg: string }[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const daemon = await startEcho(wide, logger);
    await daemon.close();
    expect(lines.map((line) => line.msg)).toContain(`the data directory ${wide} is readable by other users (mode 755); run chmod 700 on it`);
    // An existing database is set to 0600 too.
    expect(mode(path.join(wide, "clawbot.db"))).toBe(0o600);
  });
});
