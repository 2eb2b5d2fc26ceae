// Packs this repository with `npm pack` and installs the tarball into an empty directory, offline, as a slim CPU-only install.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { repositoryRoot } from "./cli-process.js";

const run = promisify(execFile);

export interface PackedInstall {
  /** The directory holding package.json, package-lock.json and node_modules/ with clawbot in it. */
  directory: string;
  /** node_modules/clawbot/bin/clawbot.js */
  binary: string;
  /** The CPU-only llama.cpp binary package, e.g. @node-llama-cpp/linux-x64. */
  cpuBinaryPackage: string;
  remove(): void;
}

/** Whether `npm` can be run here; the reason when not. */
export async function npmUnavailable(): Promise<string | undefined> {
  try {
    await run("npm", ["--version"]);
    return undefined;
  } catch (error) {
    return `npm cannot be run here (${(error as Error).message.split("\n")[0]})`;
  }
}

/** The CPU-only prebuilt llama.cpp and esbuild packages for this platform, as the slim install names them. */
export function cpuOnlyPackages(platform = process.platform, arch = process.arch): { llama: string; esbuild: string } {
  const llamaPlatform = platform === "win32" ? "win" : platform === "darwin" ? "mac" : platform;
  // On Apple silicon the one prebuilt is the Metal one (a GPU build, but the only arm64 macOS binary).
  const llamaSuffix = platform === "darwin" && arch === "arm64" ? "-metal" : "";
  return { llama: `@node-llama-cpp/${llamaPlatform}-${arch}${llamaSuffix}`, esbuild: `@esbuild/${platform}-${arch}` };
}

/**
 * 1. Copies what `npm pack` needs (package.json "files", src/, the tsconfigs) to a staging directory beside a link to
 *    this repository's node_modules, and runs `npm pack` there: its prepack script builds dist/ from scratch, so
 *    the repository's own dist/ is neither used nor touched.
 * 2. Installs the tarball into an empty directory the way the README's slim install does: `omit=optional` plus the
 *    CPU-only llama.cpp and esbuild packages as direct dependencies. The lock file given to `npm ci` is this
 *    repository's (its production entries), so every version is the tested one and npm needs only its cache:
 *    `--offline`. `--ignore-scripts`: offline, better-sqlite3's install script would compile SQLite from source
 *    (about 10 minutes here), so its compiled addon is copied from this repository's node_modules instead (same
 *    version, platform and Node).
 */
export async function packAndInstall(): Promise<PackedInstall> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-package-"));
  const remove = () => fs.rmSync(root, { recursive: true, force: true });
  try {
    const tarball = await pack(path.join(root, "stage"), root);
    const directory = path.join(root, "app");
    const cpuBinaryPackage = writeSlimProject(directory, tarball);
    await run("npm", ["ci", "--offline", "--omit=optional", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: directory, maxBuffer: 16 << 20 });
    const addon = path.join("node_modules", "better-sqlite3", "build", "Release", "better_sqlite3.node");
    fs.mkdirSync(path.dirname(path.join(directory, addon)), { recursive: true });
    fs.copyFileSync(path.join(repositoryRoot, addon), path.join(directory, addon));
    return { directory, binary: path.join(directory, "node_modules", "clawbot", "bin", "clawbot.js"), cpuBinaryPackage, remove };
  } catch (error) {
    remove();
    throw error;
  }
}

async function pack(stage: string, destination: string): Promise<string> {
  const manifest = JSON.parse(fs.readFileSync(path.join(repositoryRoot, "package.json"), "utf8")) as { files: string[] };
  fs.mkdirSync(stage);
  for (const entry of [...manifest.files, "package.json", "tsconfig.json", "tsconfig.build.json", "src"]) {
    // dist/ is built in the stage by prepack, whether or not this repository has one.
    if (entry === "dist") continue;
    fs.cpSync(path.join(repositoryRoot, entry), path.join(stage, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(repositoryRoot, "node_modules"), path.join(stage, "node_modules"), "dir");
  const { stdout } = await run("npm", ["pack", "--pack-destination", destination], { cwd: stage, maxBuffer: 16 << 20 });
  const name = stdout.trim().split("\n").at(-1)!;
  return path.join(destination, name);
}

interface LockEntry {
  version?: string;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  [key: string]: unknown;
}

/** package.json and package-lock.json of a project depending on the tarball and the CPU-only binaries. Returns the llama one. */
function writeSlimProject(directory: string, tarball: string): string {
  const lock = JSON.parse(fs.readFileSync(path.join(repositoryRoot, "package-lock.json"), "utf8")) as { packages: Record<string, LockEntry> };
  const manifest = JSON.parse(fs.readFileSync(path.join(repositoryRoot, "package.json"), "utf8")) as Record<string, unknown>;
  const { llama, esbuild } = cpuOnlyPackages();
  const packages: Record<string, LockEntry> = {};
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key !== "" && !entry.dev && !entry.devOptional) packages[key] = { ...entry };
  }
  const tarballSpec = `file:${path.relative(directory, tarball)}`;
  const dependencies: Record<string, string> = { clawbot: tarballSpec };
  for (const name of [llama, esbuild]) {
    const entry = packages[`node_modules/${name}`];
    if (!entry?.version) throw new Error(`package-lock.json has no ${name}: no CPU-only install to test on this platform`);
    delete entry.optional;
    dependencies[name] = entry.version;
  }
  packages[""] = { name: "app", dependencies };
  packages["node_modules/clawbot"] = {
    version: manifest.version as string,
    resolved: tarballSpec,
    license: manifest.license,
    dependencies: manifest.dependencies,
    bin: manifest.bin,
    engines: manifest.engines,
  };
  fs.mkdirSync(directory);
  fs.writeFileSync(path.join(directory, "package.json"), JSON.stringify({ name: "app", private: true, dependencies }, null, 2));
  fs.writeFileSync(path.join(directory, "package-lock.json"), JSON.stringify({ name: "app", lockfileVersion: 3, requires: true, packages }, null, 2));
  // The README's slim install: optional dependencies (every GPU build) left out for good, not only this once.
  fs.writeFileSync(path.join(directory, ".npmrc"), "omit=optional\n");
  return llama;
}
