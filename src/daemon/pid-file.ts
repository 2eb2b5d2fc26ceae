// The node's pid file (data_dir/clawbot.pid): one node per data directory, and how `clawbot restore` sees a running node.
import fs from "node:fs";
import path from "node:path";
import { ClawError } from "../core/errors.js";
import { privateFileMode } from "../core/private-files.js";

export const pidFileName = "clawbot.pid";

/** A pid file this process wrote; release() removes it (only while it still names this process). */
export interface PidFile {
  readonly file: string;
  /** The pid of a node that died without removing its file (kill -9, power loss), replaced now; undefined when none. */
  readonly replacedStalePid: number | undefined;
  release(): void;
}

/** Data directories a node of this process holds: a pid file naming this process is stale unless listed here. */
const heldByThisProcess = new Set<string>();

/** The node running on a data directory: its pid and pid file, or undefined when none runs (no file, or a stale one). */
export function runningNode(dataDir: string): { pid: number; file: string } | undefined {
  const directory = path.resolve(dataDir);
  const file = path.join(directory, pidFileName);
  const pid = readPid(file);
  if (pid === undefined) return undefined;
  // After a container restart the new node often gets the pid the old one had: its own pid is not another node.
  if (pid === process.pid) return heldByThisProcess.has(directory) ? { pid, file } : undefined;
  return isAlive(pid) ? { pid, file } : undefined;
}

/**
 * Writes data_dir/clawbot.pid (0600) for this process. Throws a `storage_error` naming the pid when another live
 * node holds the data directory; a file left by a node that is gone is replaced.
 */
export function acquirePidFile(dataDir: string): PidFile {
  const directory = path.resolve(dataDir);
  const file = path.join(directory, pidFileName);
  let replacedStalePid: number | undefined;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    if (createWithPid(file)) {
      heldByThisProcess.add(directory);
      return { file, replacedStalePid, release: () => release(directory, file) };
    }
    const running = runningNode(directory);
    if (running) {
      throw new ClawError(
        "storage_error",
        `Another node (pid ${running.pid}) is running on the data directory ${directory}: two nodes must not share one database. ` +
          `Stop it first, or give this node its own agent.data_dir. (If no such node runs, remove ${file}.)`,
      );
    }
    replacedStalePid = readPid(file) ?? replacedStalePid;
    fs.rmSync(file, { force: true });
  }
  throw new ClawError("storage_error", `Cannot take the pid file ${file}: another process keeps writing it.`);
}

/**
 * Creates the file holding this pid, or returns false when it exists. Written under a temporary name and linked into
 * place, so the file appears with its content: of two nodes starting at once exactly one gets it, and neither ever
 * reads the other's file empty (and takes it for stale).
 */
function createWithPid(file: string): boolean {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temporary, `${process.pid}\n`, { mode: privateFileMode });
    try {
      fs.linkSync(temporary, file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // A file system without hard links: created exclusively, then written (a tiny window where it is empty).
      if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS") throw error;
      fs.writeFileSync(file, `${process.pid}\n`, { mode: privateFileMode, flag: "wx" });
    }
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    const reason = code === "EACCES" || code === "EPERM" || code === "EROFS"
      ? `the directory ${path.dirname(file)} is read-only or not writable by this user. Fix the permissions, or set agent.data_dir to a directory this user can write`
      : (error as Error).message;
    throw new ClawError("storage_error", `Cannot write the pid file ${file}: ${reason}.`, { cause: error });
  } finally {
    fs.rmSync(temporary, { force: true });
  }
}

function release(directory: string, file: string): void {
  if (!heldByThisProcess.delete(directory)) return;
  // Never remove the file of a node that replaced ours (ours was taken for stale while this process hung).
  if (readPid(file) === process.pid) fs.rmSync(file, { force: true });
}

function readPid(file: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
