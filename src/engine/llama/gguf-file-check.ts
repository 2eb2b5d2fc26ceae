// Checks that a file exists and starts with the GGUF magic bytes, before llama.cpp is handed it.
import fs from "node:fs";

/** Throws an error that names the file (as `label`, e.g. "Model file") when it is missing or not GGUF. */
export function assertGgufFile(filePath: string, label: string): void {
  let header: Buffer;
  try {
    const handle = fs.openSync(filePath, "r");
    header = Buffer.alloc(4);
    fs.readSync(handle, header, 0, 4, 0);
    fs.closeSync(handle);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (error as Error).message;
    throw new Error(`${label} ${filePath}: ${reason}`);
  }
  if (header.toString("latin1") !== "GGUF") throw new Error(`${label} ${filePath} is not a GGUF file (bad magic bytes)`);
}
