// The policy in force: loaded from security.policy_file, replaced atomically (file edits, the admin API), each change audited.
import fs from "node:fs";
import path from "node:path";
import { ClawError } from "../../core/errors.js";
import type { Logger } from "../../logging/logger.js";
import { parsePolicy, policyDigest, type Policy } from "./policy-loader.js";

/** One change of the policy in force, for the audit record (`config_reload`). */
export interface PolicyChange {
  source: "file" | "api";
  /** Who made it: the admin's subject (api), the file's owner (file); undefined when unknown. */
  by: string | undefined;
  policy: Policy;
  previous: Policy | undefined;
  /** The policy file, when one is configured. */
  file: string | undefined;
}

/** A version of the policy file that was refused. */
export interface PolicyRefusal {
  /** Hex SM3 of the refused text. */
  digest: string;
  problem: string;
  /** Epoch milliseconds. */
  at: number;
}

export interface PolicyStoreOptions {
  /** Absolute path of the policy file; without one there is no policy (no role checks) and replace() is refused. */
  file?: string;
  /** The node's loaded plugins, for roles that require one. */
  loadedPlugins?: readonly string[];
  logger: Logger;
  /**
   * Records a change before it takes effect (the audit ledger's `config_reload`); when it throws, the change is not
   * made. Also called for the policy loaded at start.
   */
  onChange?: (change: PolicyChange) => void;
  /** Milliseconds of quiet after the last file event before the file is read again (editors write in steps). */
  debounceMs?: number;
}

export class PolicyStore {
  private policy: Policy | undefined;
  private watcher: fs.FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The file's last version that was refused (one broken save is logged once), until a good one is loaded. */
  private lastRefusal: PolicyRefusal | undefined;

  /** Reads and validates the policy file (when configured); a missing or broken file throws (the node does not start). */
  constructor(private readonly options: PolicyStoreOptions) {
    const { file } = options;
    if (!file) return;
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (error as Error).message;
      throw new ClawError("bad_request", `${file}: cannot read the security policy (${reason})`);
    }
    this.install(parsePolicy(text, file, this.parseOptions()), "file", ownerOf(file));
  }

  /** The policy in force now; undefined when no policy file is configured (every verified caller may do everything). */
  current(): Policy | undefined {
    return this.policy;
  }

  /** Why the file's current content is not in force (it is broken), for status and tests; undefined when it is. */
  get refused(): PolicyRefusal | undefined {
    return this.lastRefusal;
  }

  /** The policy file, when one is configured. */
  get file(): string | undefined {
    return this.options.file;
  }

  /**
   * Validates `text` and makes it the policy in force at once (requests already running keep theirs). From the API it
   * is also written to the policy file (atomically: a temporary file renamed over it), so a restart keeps it. Throws
   * `bad_request` naming the problem, and the old policy stays.
   */
  replace(text: string, by: string | undefined, source: "file" | "api"): Policy {
    const { file } = this.options;
    if (!file) throw new ClawError("bad_request", "No security.policy_file is configured: set it to manage permissions.");
    const policy = parsePolicy(text, source === "api" ? "the policy" : file, this.parseOptions());
    if (source === "file") return this.install(policy, source, by);
    const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
    try {
      fs.writeFileSync(temporary, text, { mode: fileMode(file) });
      this.install(policy, source, by, () => fs.renameSync(temporary, file));
    } catch (error) {
      if (error instanceof ClawError || !(error as NodeJS.ErrnoException).code) throw error;
      throw new ClawError("storage_error", `Writing the policy file ${file} failed (${(error as Error).message}); the previous policy stays in force.`, { cause: error });
    } finally {
      fs.rmSync(temporary, { force: true });
    }
    return policy;
  }

  /**
   * Re-reads the policy file whenever it changes: the directory is watched, since editors replace the file rather than
   * write it. A broken version is refused with one log line naming the problem; the policy in force stays.
   */
  watch(): void {
    const { file } = this.options;
    if (!file || this.watcher) return;
    const name = path.basename(file);
    this.watcher = fs.watch(path.dirname(file), (_event, changed) => {
      if (changed !== null && changed !== name) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.reload(), this.options.debounceMs ?? 100);
    });
    this.watcher.on("error", (error) => this.options.logger.error({ err: error, file }, "watching the policy file failed; edits take effect after a restart"));
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }

  private reload(): void {
    const file = this.options.file as string;
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (error) {
      // Between an editor's delete and rename; the next event reads it.
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      this.options.logger.error({ file, problem: (error as Error).message }, `policy file not read: ${(error as Error).message}; the previous policy stays in force`);
      return;
    }
    const digest = policyDigest(text);
    if (digest === this.policy?.digest) {
      this.lastRefusal = undefined;
      return;
    }
    if (digest === this.lastRefusal?.digest) return;
    try {
      const policy = this.replace(text, ownerOf(file), "file");
      this.lastRefusal = undefined;
      this.options.logger.info({ file, policy: policy.digest.slice(0, 16), roles: Object.keys(policy.document.roles) }, "security policy reloaded");
    } catch (error) {
      const problem = (error as Error).message;
      this.lastRefusal = { digest, problem, at: Date.now() };
      this.options.logger.error({ file, problem }, `policy file refused: ${problem}; the previous policy stays in force`);
    }
  }

  /** Records the change (which may refuse it), runs `commit`, then swaps: one assignment, so a request sees old or new. */
  private install(policy: Policy, source: "file" | "api", by: string | undefined, commit?: () => void): Policy {
    this.options.onChange?.({ source, by, policy, previous: this.policy, file: this.options.file });
    commit?.();
    this.policy = policy;
    return policy;
  }

  private parseOptions() {
    return this.options.loadedPlugins ? { loadedPlugins: this.options.loadedPlugins } : {};
  }
}

function ownerOf(file: string): string | undefined {
  try {
    return `uid ${fs.statSync(file).uid}`;
  } catch {
    return undefined;
  }
}

function fileMode(file: string): number {
  try {
    return fs.statSync(file).mode & 0o777;
  } catch {
    return 0o600;
  }
}
