// Decides what the `clawbot` command runs: the compiled dist/ or, in a clone, the TypeScript sources in src/ through tsx.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

/** Written by `npm run build` after tsc has finished, so a half-written dist/ is never taken for a build. */
export const buildMarker = "build-complete";

/**
 * The rule: an installed package has only dist/, and runs it. A clone has src/ and maybe a dist/ from `npm run build`;
 * that dist/ runs only when its build finished (dist/build-complete exists) and no file under src/ (tests aside) changed
 * after it, so a stale build never runs: the sources run through tsx instead, with no build step.
 * @param {string} packageRoot the folder holding package.json, bin/, dist/ and (in a clone) src/
 * @returns {{kind: "dist" | "source", url: string}} the module exporting `main(argv)`, and whether it needs tsx
 */
export function chooseEntryPoint(packageRoot) {
  const source = path.join(packageRoot, "src");
  const marker = path.join(packageRoot, "dist", buildMarker);
  const builtAt = modifiedAt(marker);
  const hasSource = fs.existsSync(path.join(source, "cli", "main.ts"));
  if (builtAt !== undefined && (!hasSource || newestSourceChange(source) <= builtAt)) {
    return { kind: "dist", url: pathToFileURL(path.join(packageRoot, "dist", "cli", "main.js")).href };
  }
  if (!hasSource) throw new Error(`${path.join(packageRoot, "dist")} is missing or incomplete: run \`npm run build\` in ${packageRoot}`);
  return { kind: "source", url: pathToFileURL(path.join(source, "cli", "main.ts")).href };
}

/** @param {string} file @returns {number | undefined} */
function modifiedAt(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/** The latest modification time of a file or folder under `folder` that the build compiles (tests do not count). */
function newestSourceChange(folder) {
  let newest = fs.statSync(folder).mtimeMs;
  for (const entry of fs.readdirSync(folder, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(".test.ts")) continue;
    const time = modifiedAt(path.join(entry.parentPath ?? entry.path, entry.name));
    if (time !== undefined && time > newest) newest = time;
  }
  return newest;
}
