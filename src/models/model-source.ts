// Parses a model spec (local path, http(s) URL, or Hugging Face URI) into where the model file comes from.
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export type ModelSource =
  | { kind: "path"; path: string }
  | { kind: "url"; url: string; fileName: string }
  | { kind: "hf"; url: string; fileName: string };

export const defaultHuggingFaceEndpoint = "https://huggingface.co";

export class ModelSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelSpecError";
  }
}

/** URI prefixes, and whether the rest may be a pasted page path (`<owner>/<repo>/blob|resolve/<revision>/...`). */
const huggingFacePrefixes: readonly { prefix: string; pagePath: boolean }[] = [
  { prefix: "hf://", pagePath: false },
  { prefix: "hf:", pagePath: false },
  { prefix: "hf.co/", pagePath: true },
  { prefix: "huggingface.co/", pagePath: true },
];

/**
 * Turns a model spec into a source:
 * - `hf:<owner>/<repo>/<path/to/file.gguf>[@<revision>]` (also `hf://`, and `hf.co/...` or `huggingface.co/...`,
 *   which may also be a pasted page path `<owner>/<repo>/blob/<revision>/<path>`)
 *   → `${CLAWBOT_HF_ENDPOINT}/<owner>/<repo>/resolve/<revision|main>/<path>`
 * - `http(s)://...` → that URL (a Hugging Face `/blob/` page link is rewritten to its `/resolve/` download link)
 * - `file://...`, or anything else → a local path (`~` expanded, resolved to absolute)
 */
export function parseModelSpec(spec: string, environment: NodeJS.ProcessEnv = process.env): ModelSource {
  const trimmed = spec.trim();
  if (trimmed === "") throw new ModelSpecError("The model spec is empty: give a file path, an http(s) URL or hf:<owner>/<repo>/<file.gguf>.");
  const lower = trimmed.toLowerCase();
  const huggingFace = huggingFacePrefixes.find((candidate) => lower.startsWith(candidate.prefix));
  if (huggingFace !== undefined) {
    return parseHuggingFace(trimmed, trimmed.slice(huggingFace.prefix.length), huggingFace.pagePath, environment);
  }
  if (lower.startsWith("http://") || lower.startsWith("https://")) return parseUrl(trimmed);
  if (lower.startsWith("file://")) return { kind: "path", path: fileURLToPath(trimmed) };
  return { kind: "path", path: path.resolve(expandHome(trimmed, environment)) };
}

/** The Hugging Face endpoint from CLAWBOT_HF_ENDPOINT, without a trailing slash. */
export function huggingFaceEndpoint(environment: NodeJS.ProcessEnv = process.env): string {
  const configured = environment.CLAWBOT_HF_ENDPOINT?.trim();
  return (configured || defaultHuggingFaceEndpoint).replace(/\/+$/, "");
}

function parseHuggingFace(spec: string, rest: string, pagePath: boolean, environment: NodeJS.ProcessEnv): ModelSource {
  let location = rest;
  let revision = "main";
  const at = location.lastIndexOf("@");
  if (at !== -1) {
    revision = location.slice(at + 1);
    location = location.slice(0, at);
    if (revision === "") throw new ModelSpecError(`${spec}: empty revision after "@"`);
  }
  const segments = location.split("/").filter((segment) => segment !== "");
  // Accept page links pasted without the scheme: hf.co/<owner>/<repo>/(blob|resolve)/<revision>/<path>.
  const marker = segments[2];
  if (pagePath && (marker === "blob" || marker === "resolve") && segments.length >= 5 && at === -1) {
    revision = segments[3]!;
    segments.splice(2, 2);
  }
  const [owner, repository, ...filePath] = segments;
  if (owner === undefined || repository === undefined || filePath.length === 0) {
    throw new ModelSpecError(`${spec}: expected hf:<owner>/<repo>/<path/to/file.gguf>[@<revision>]`);
  }
  for (const segment of [owner, repository, ...filePath]) {
    if (segment === "." || segment === "..") throw new ModelSpecError(`${spec}: "${segment}" is not allowed in a Hugging Face path`);
  }
  const encodedPath = [owner, repository, "resolve", revision, ...filePath].map(encodeURIComponent).join("/");
  return { kind: "hf", url: `${huggingFaceEndpoint(environment)}/${encodedPath}`, fileName: checkedFileName(filePath.at(-1)!, spec) };
}

function parseUrl(spec: string): ModelSource {
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw new ModelSpecError(`${spec}: not a valid URL`);
  }
  // A Hugging Face page link (/blob/) serves HTML; its file is at /resolve/.
  const hostname = url.hostname.toLowerCase();
  if ((hostname === "huggingface.co" || hostname === "hf.co") && /^\/[^/]+\/[^/]+\/blob\//.test(url.pathname)) {
    url.pathname = url.pathname.replace(/^(\/[^/]+\/[^/]+\/)blob\//, "$1resolve/");
  }
  const lastSegment = url.pathname.split("/").filter((segment) => segment !== "").at(-1);
  if (lastSegment === undefined) throw new ModelSpecError(`${spec}: the URL does not end in a file name`);
  let fileName: string;
  try {
    fileName = decodeURIComponent(lastSegment);
  } catch {
    fileName = lastSegment;
  }
  return { kind: "url", url: url.toString(), fileName: checkedFileName(fileName, spec) };
}

function checkedFileName(fileName: string, spec: string): string {
  if (fileName === "" || fileName === "." || fileName === ".." || /[/\\\0]/.test(fileName)) {
    throw new ModelSpecError(`${spec}: cannot derive a safe file name from "${fileName}"`);
  }
  return fileName;
}

function expandHome(file: string, environment: NodeJS.ProcessEnv): string {
  if (file === "~" || file.startsWith("~/")) return path.join(environment.HOME || os.homedir(), file.slice(1));
  return file;
}
