// The rule bin/clawbot.js follows: dist/ when built and current, the TypeScript sources when dist/ is stale or missing.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { buildMarker, chooseEntryPoint } from "../bin/choose-entry-point.js";

const roots: string[] = [];
const builtAt = new Date("2030-01-01T12:00:00Z");
const before = new Date("2030-01-01T11:00:00Z");
const after = new Date("2030-01-01T13:00:00Z");

afterEach(() => {
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
});

/** A package root with the given files, every file and folder dated `before`, and dist/ built at `builtAt`. */
function packageRoot(files: string[], { built = true } = {}): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-entry-"));
  roots.push(root);
  for (const file of files) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), "");
  }
  if (built) fs.writeFileSync(path.join(root, "dist", buildMarker), "");
  for (const entry of fs.readdirSync(root, { recursive: true, encoding: "utf8" })) fs.utimesSync(path.join(root, entry), before, before);
  if (built) fs.utimesSync(path.join(root, "dist", buildMarker), builtAt, builtAt);
  return root;
}

const clone = ["src/cli/main.ts", "src/core/errors.ts", "src/core/errors.test.ts", "dist/cli/main.js"];

describe("chooseEntryPoint", () => {
  it("runs dist/ in an installed package (no src/)", () => {
    const root = packageRoot(["dist/cli/main.js"]);
    expect(chooseEntryPoint(root)).toEqual({ kind: "dist", url: `file://${root}/dist/cli/main.js` });
  });

  it("runs dist/ in a clone when no source changed after the build", () => {
    expect(chooseEntryPoint(packageRoot(clone)).kind).toBe("dist");
  });

  it("runs the sources when a source file changed after the build", () => {
    const root = packageRoot(clone);
    fs.utimesSync(path.join(root, "src/core/errors.ts"), after, after);
    expect(chooseEntryPoint(root)).toEqual({ kind: "source", url: `file://${root}/src/cli/main.ts` });
  });

  it("runs the sources when a source file was removed after the build (its folder changed)", () => {
    const root = packageRoot([...clone, "src/core/gone.ts"]);
    fs.rmSync(path.join(root, "src/core/gone.ts"));
    fs.utimesSync(path.join(root, "src/core"), after, after);
    expect(chooseEntryPoint(root).kind).toBe("source");
  });

  it("ignores tests changed after the build (they are not compiled)", () => {
    const root = packageRoot(clone);
    fs.utimesSync(path.join(root, "src/core/errors.test.ts"), after, after);
    expect(chooseEntryPoint(root).kind).toBe("dist");
  });

  it("runs the sources when the build did not finish (no dist/build-complete)", () => {
    expect(chooseEntryPoint(packageRoot(clone, { built: false })).kind).toBe("source");
  });

  it("says how to build when there is neither a finished dist/ nor src/", () => {
    const root = packageRoot(["dist/cli/main.js"], { built: false });
    expect(() => chooseEntryPoint(root)).toThrow(`${path.join(root, "dist")} is missing or incomplete: run \`npm run build\` in ${root}`);
  });
});
