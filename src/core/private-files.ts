// Files only the node's own user may read: directories 0700, files 0600, set explicitly whatever the umask.
import fs from "node:fs";

export const privateDirectoryMode = 0o700;
export const privateFileMode = 0o600;

export interface PrivateDirectory {
  /** Whether the directory was created now (mode set to 0700). */
  created: boolean;
  /** The permission bits of an existing directory that lets its group or others in (e.g. 0o755); undefined when private. */
  widerMode?: number;
}

/**
 * Creates `directory` (and missing parents) with mode 0700. An existing directory is left as it is, because
 * the operator may have widened it on purpose: its mode is returned so the caller can warn.
 */
export function ensurePrivateDirectory(directory: string): PrivateDirectory {
  const existed = fs.existsSync(directory);
  if (!existed) {
    fs.mkdirSync(directory, { recursive: true, mode: privateDirectoryMode });
    // mkdir's mode passes through the umask; a umask of 0 is fine, but set it exactly anyway.
    fs.chmodSync(directory, privateDirectoryMode);
    return { created: true };
  }
  const mode = fs.statSync(directory).mode & 0o777;
  return mode & 0o077 ? { created: false, widerMode: mode } : { created: false };
}

/** Sets a file that exists to mode 0600 (a no-op when it does not exist). */
export function restrictFile(file: string): void {
  try {
    fs.chmodSync(file, privateFileMode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

/** Writes a file readable by its owner only (also when it already existed with a wider mode). */
export function writePrivateFile(file: string, data: string | NodeJS.ArrayBufferView): void {
  fs.writeFileSync(file, data, { mode: privateFileMode });
  fs.chmodSync(file, privateFileMode);
}
