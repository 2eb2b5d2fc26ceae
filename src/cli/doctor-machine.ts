// `clawbot doctor`'s checks of this machine: the model file (GGUF, size vs memory), threads vs cores, the data directory, the clock.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { servesModel } from "../config/cluster-schema.js";
import type { LoadedConfig } from "../config/load.js";
import { modelCacheDir } from "../models/default-model.js";
import { listCachedModels } from "../models/model-cache.js";
import { ModelNotFoundError, resolveModel } from "../models/model-resolver.js";
import { parseModelSpec } from "../models/model-source.js";
import { fail, ok, warn, type DoctorCheck } from "./doctor-check.js";

const gibibyte = 1024 ** 3;

export async function modelChecks(loaded: LoadedConfig, environment: NodeJS.ProcessEnv): Promise<DoctorCheck[]> {
  const { config, baseDir } = loaded;
  if (config.agent.engine !== "llama") return [ok("model", `engine ${config.agent.engine}: no model file needed`)];
  if (!servesModel(config)) return [ok("model", "gateway-only cluster node: no model file needed (the workers load it)")];
  const file = await modelFile(config.agent.model_path, baseDir, environment);
  return ["check" in file ? file.check : await modelFileCheck(file.path), threadsCheck(config.agent.threads)];
}

/** The GGUF file start would load, or the finding that there is none (yet). */
async function modelFile(modelPath: string | undefined, baseDir: string, environment: NodeJS.ProcessEnv): Promise<{ path: string } | { check: DoctorCheck }> {
  const cacheDir = modelCacheDir(environment);
  try {
    const location = await resolveModel(modelPath, { baseDir, cacheDir, environment });
    if (location.kind === "file") return { path: location.path };
    const source = parseModelSpec(location.spec, environment);
    const fileName = source.kind === "path" ? path.basename(source.path) : source.fileName;
    const cached = (await listCachedModels(cacheDir)).find((model) => model.fileName === fileName && !model.partial);
    if (cached) return { path: cached.path };
    return {
      check: warn(
        "model",
        `${location.spec} is not downloaded yet: clawbot start downloads it into ${cacheDir} on its first start`,
        `download it now with clawbot models pull ${location.spec}, or on a machine without internet copy the file here and run clawbot models import <file.gguf>`,
      ),
    };
  } catch (error) {
    if (!(error instanceof ModelNotFoundError) && (error as Error).name !== "ModelSpecError") throw error;
    return { check: fail("model", (error as Error).message, "put the GGUF file there, or set agent.model_path to an existing .gguf file (clawbot models list shows the cached ones)") };
  }
}

async function modelFileCheck(file: string): Promise<DoctorCheck> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, "r");
  } catch (error) {
    return fail("model", `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, `make ${file} readable by this user (chmod a+r, or chown it to the node's user)`);
  }
  let size: number;
  const magic = Buffer.alloc(4);
  try {
    size = (await handle.stat()).size;
    await handle.read(magic, 0, 4, 0);
  } finally {
    await handle.close();
  }
  if (magic.toString("latin1") !== "GGUF") {
    return fail("model", `${file} is not a GGUF file (it does not start with the GGUF magic bytes)`, "point agent.model_path at a .gguf model (llama.cpp's format); a partial download is fixed by clawbot models pull again");
  }
  const { limit, available } = memory();
  const sizeText = `${formatGiB(size)} GiB`;
  if (size > limit) {
    return fail("model", `${file} (${sizeText}) is larger than this machine's memory (${formatGiB(limit)} GiB)`, "use a smaller quantization (Q4_K_M) or a smaller model, or run it on a machine with more memory");
  }
  if (size > limit * 0.8 || size > available) {
    return warn(
      "model",
      `${file} (${sizeText}) leaves little memory: ${formatGiB(limit)} GiB in all, ${formatGiB(available)} GiB available now, and the context needs more on top`,
      "use a smaller quantization or model, lower agent.parallel and agent.context_size, or free memory before starting",
    );
  }
  return ok("model", `${file}: GGUF, ${sizeText} (${formatGiB(available)} GiB of ${formatGiB(limit)} GiB memory available)`);
}

/** The measured trap: llama.cpp with as many threads as cores on a small box runs many times slower than with one fewer. */
export function threadsCheck(threads: number, cores: number = os.availableParallelism()): DoctorCheck {
  const suggested = Math.max(1, cores - 1);
  if (threads > cores) return warn("threads", `agent.threads is ${threads} but this machine has ${cores} cores`, `set agent.threads: ${suggested} (cores − 1), or remove it: that is the default`);
  if (threads === cores && cores > 1) {
    return warn("threads", `agent.threads is ${threads}, every core: llama.cpp then competes with the gateways and can run many times slower`, `set agent.threads: ${suggested} (cores − 1), or remove it: that is the default`);
  }
  return ok("threads", `agent.threads ${threads} of ${cores} cores`);
}

/** Memory the model may use: the machine's, or a container's cgroup limit when lower; and what is available now. */
function memory(): { limit: number; available: number } {
  let limit = os.totalmem();
  const cgroup = readNumber("/sys/fs/cgroup/memory.max") ?? readNumber("/sys/fs/cgroup/memory/memory.limit_in_bytes");
  if (cgroup !== undefined && cgroup > 0 && cgroup < limit) limit = cgroup;
  let available = os.freemem();
  try {
    const match = /^MemAvailable:\s+(\d+) kB/m.exec(fs.readFileSync("/proc/meminfo", "utf8"));
    if (match) available = Number(match[1]) * 1024;
  } catch {
    // Not Linux: freemem is what there is.
  }
  return { limit, available: Math.min(available, limit) };
}

function readNumber(file: string): number | undefined {
  try {
    const value = Number(fs.readFileSync(file, "utf8").trim());
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function formatGiB(bytes: number): string {
  return (bytes / gibibyte).toFixed(bytes < gibibyte ? 2 : 1);
}

/** Exists or can be created, owned by this user, not open to others, writable, with room on its disk. */
export function dataDirChecks(dataDir: string): DoctorCheck[] {
  const name = "data dir";
  let stats: fs.Stats | undefined;
  try {
    stats = fs.statSync(dataDir);
  } catch {
    // Missing: whether it can be created is decided by the nearest directory that exists.
  }
  const checks: DoctorCheck[] = [];
  if (!stats) {
    const parent = nearestExisting(dataDir);
    if (!writable(parent)) {
      return [fail(name, `${dataDir} does not exist and cannot be created (${parent} is not writable by this user)`, `create it as root for the node's user: mkdir -p ${dataDir} && chown <node user> ${dataDir} && chmod 700 ${dataDir}, or set agent.data_dir to a directory this user can write`)];
    }
    checks.push(ok(name, `${dataDir} does not exist yet: the node creates it (mode 700) at its first start`));
  } else if (!stats.isDirectory()) {
    return [fail(name, `${dataDir} is not a directory`, `move that file away, or set agent.data_dir to a directory`)];
  } else {
    const uid = process.getuid?.();
    if (uid !== undefined && stats.uid !== uid) {
      checks.push(warn(name, `${dataDir} is owned by uid ${stats.uid}, not by this user (uid ${uid})`, `run the node as its owner, or: chown -R ${os.userInfo().username} ${dataDir}`));
    }
    if (!writable(dataDir)) checks.push(fail(name, `${dataDir} is not writable by this user`, `chown -R ${os.userInfo().username} ${dataDir} && chmod 700 ${dataDir}, or run the node as its owner`));
    else if (checks.length === 0) checks.push(ok(name, `${dataDir} exists and is writable`));
    const mode = stats.mode & 0o777;
    checks.push(
      mode & 0o077
        ? warn("data dir mode", `${dataDir} has mode ${mode.toString(8)}: other users can read the sessions, the audit ledger and the keys`, `chmod 700 ${dataDir}`)
        : ok("data dir mode", `${mode.toString(8)}`),
    );
  }
  checks.push(diskSpaceCheck(stats ? dataDir : nearestExisting(dataDir)));
  return checks;
}

function diskSpaceCheck(directory: string): DoctorCheck {
  try {
    const stats = fs.statfsSync(directory);
    const free = stats.bavail * stats.bsize;
    if (free < gibibyte) return warn("disk space", `${formatGiB(free)} GiB free under ${directory}`, "free space on that disk, or move agent.data_dir to a disk with at least 1 GiB free (sessions, the audit ledger and the knowledge base grow)");
    return ok("disk space", `${formatGiB(free)} GiB free under ${directory}`);
  } catch (error) {
    return warn("disk space", `cannot tell (${(error as Error).message})`, `check it yourself: df -h ${directory}`);
  }
}

function nearestExisting(directory: string): string {
  let current = path.resolve(directory);
  while (!fs.existsSync(current)) {
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  return current;
}

function writable(directory: string): boolean {
  try {
    fs.accessSync(directory, fs.constants.W_OK | fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Token lifetimes, audit times and the cluster's leases need a synchronised clock. */
export async function clockCheck(): Promise<DoctorCheck> {
  const answer = await new Promise<string | undefined>((resolve) => {
    execFile("timedatectl", ["show", "-p", "NTPSynchronized", "--value"], { timeout: 3000 }, (error, stdout) => resolve(error ? undefined : stdout.trim()));
  });
  if (answer === "yes") return ok("clock", "synchronised (NTP)");
  if (answer === "no") return warn("clock", "not synchronised: token expiry, audit times and cluster leases depend on it", "enable time synchronisation: timedatectl set-ntp true (or configure chrony / systemd-timesyncd)");
  return warn("clock", "cannot tell whether it is synchronised (no timedatectl answer here, e.g. in a container)", "make sure the host synchronises its clock (NTP: chrony or systemd-timesyncd); containers use the host's clock");
}
