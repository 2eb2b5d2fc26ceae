// The web chat's and operator console's files (web/ beside src/ and dist/), read once into memory, and markdown-it's browser build.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export interface WebAsset {
  body: Buffer;
  /** The content-type header. */
  type: string;
  /** A strong ETag of the body. */
  etag: string;
}

/** The types a web file may have; any other file under web/ is not served. */
const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
  ".webmanifest": "application/manifest+json",
};

/** web/ of the package: three levels above this file in src/gateways/http/ and in dist/gateways/http/ alike. */
export const webRoot = fileURLToPath(new URL("../../../web/", import.meta.url));

/** Where markdown-it's browser build is served from (an ES module; the pages import it by this path). */
export const markdownItPath = "/web/vendor/markdown-it.mjs";

/**
 * Every servable file under `root`, keyed by its URL path (`/web/chat/chat.js`), plus markdown-it's browser build.
 * Read at start: a request can only ever get one of these buffers, so no path from a client touches the disk.
 */
export function loadWebAssets(root: string = webRoot): Map<string, WebAsset> {
  const assets = new Map<string, WebAsset>();
  for (const file of listFiles(root)) {
    const type = contentTypes[path.extname(file).toLowerCase()];
    if (!type) continue;
    const urlPath = `/web/${path.relative(root, file).split(path.sep).join("/")}`;
    assets.set(urlPath, asset(fs.readFileSync(file), type));
  }
  // The ES module build (the export `markdown-it/browser` names it for `import`; require would get the UMD one).
  const markdownIt = path.join(path.dirname(createRequire(import.meta.url).resolve("markdown-it/package.json")), "dist", "browser", "markdown-it.esm.min.mjs");
  assets.set(markdownItPath, asset(fs.readFileSync(markdownIt), contentTypes[".mjs"] as string));
  return assets;
}

function asset(body: Buffer, type: string): WebAsset {
  return { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
}

function listFiles(directory: string): string[] {
  if (!fs.existsSync(directory)) return [];
  return fs.readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    if (entry.name.startsWith(".")) return [];
    if (entry.isDirectory()) return listFiles(full);
    return entry.isFile() ? [full] : [];
  });
}
