// The npm package end to end: `npm pack`, a slim CPU-only install of the tarball into an empty directory (offline, from the
// npm cache), then the installed `clawbot` command and `import … from "clawbot"` from plain Node, with no TypeScript loader.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, killAll, repositoryRoot, runCli, sandboxEnv, spawnCli, waitUntilReady } from "./helpers/cli-process.js";
import { npmUnavailable, packAndInstall, type PackedInstall } from "./helpers/packed-install.js";
import { testModelPath } from "./helpers/test-model.js";

const run = promisify(execFile);
const unavailable = await npmUnavailable();
if (unavailable) console.warn(`test/package.test.ts skipped: ${unavailable}`);

/** Packages whose import costs a `clawbot --help` far more than it has (node-llama-cpp alone takes seconds to load). */
const notForHelp = ["node-llama-cpp", "fastify", "mqtt", "better-sqlite3", "tsx", "esbuild"];

/** A plugin in TypeScript, in a folder without "type": "module", so tsx (loaded for it alone) compiles it to CommonJS. */
const typeScriptPlugin = `import { BasePlugin, ClawError, type StreamPart } from "clawbot";

export default class TagPlugin extends BasePlugin<{ tag: string }> {
  postProcess(response: string): string {
    return \`\${this.options.tag} \${response}\`;
  }
}

export const example: StreamPart = { type: "error", error: new ClawError("bad_request", "an example") };

/** Never called: it only has to compile. */
export function wrongCode(): ClawError {
  // @ts-expect-error: not a code of the error table; compiles only if "clawbot" came without types (as any)
  return new ClawError("not_a_code", "an example");
}
`;

describe.skipIf(unavailable !== undefined)("the packed package, installed slim (CPU only) into an empty directory", () => {
  let installed: PackedInstall;
  let version: string;

  beforeAll(async () => {
    installed = await packAndInstall();
    version = (JSON.parse(fs.readFileSync(path.join(repositoryRoot, "package.json"), "utf8")) as { version: string }).version;
    fs.writeFileSync(path.join(installed.directory, "tag-plugin.ts"), typeScriptPlugin);
  }, 600_000);

  afterAll(async () => {
    await killAll();
    installed?.remove();
  });

  it("holds compiled JavaScript with declarations and no TypeScript sources or tests", () => {
    const packageDir = path.join(installed.directory, "node_modules", "clawbot");
    const files = fs.readdirSync(packageDir, { recursive: true, encoding: "utf8" });
    expect(files).toContain(path.join("dist", "index.js"));
    expect(files).toContain(path.join("dist", "index.d.ts"));
    expect(files).toContain(path.join("dist", "cli", "main.js.map"));
    expect(files).toContain(path.join("dist", "build-complete"));
    expect(files.filter((file) => file.startsWith(`src${path.sep}`) || /\.test\.(?:ts|js)$/.test(file))).toEqual([]);
  });

  it("has no GPU build of llama.cpp, only the CPU one", () => {
    const scope = path.join(installed.directory, "node_modules", "@node-llama-cpp");
    expect(fs.readdirSync(scope).map((name) => `@node-llama-cpp/${name}`)).toEqual([installed.cpuBinaryPackage]);
  });

  it("`clawbot --version` prints the package's version through the installed bin link", async () => {
    const { stdout } = await run(path.join(installed.directory, "node_modules", ".bin", "clawbot"), ["--version"], { cwd: installed.directory });
    expect(stdout.trim()).toBe(version);
  });

  it("`clawbot --help` lists the commands without loading the model runtime, the servers or a TypeScript loader", async () => {
    const record = path.join(installed.directory, "help-imports.txt");
    const { stdout } = await run(process.execPath, ["--import", importRecorder(record), installed.binary, "--help"], { cwd: installed.directory });
    expect(stdout).toMatch(/^Usage: clawbot/);
    for (const command of ["start", "init", "token", "chat", "models"]) expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    const loaded = new Set(fs.readFileSync(record, "utf8").split("\n").flatMap((url) => packageOf(url) ?? []));
    expect(loaded.has("commander"), "the recorder saw the CLI's own imports").toBe(true);
    expect(notForHelp.filter((name) => loaded.has(name))).toEqual([]);
  });

  it("plain Node ESM imports the package's JavaScript, and TypeScript finds its declarations", async () => {
    const script = `const api = await import("clawbot");
      console.log(JSON.stringify({ url: import.meta.resolve("clawbot"), definePlugin: typeof api.definePlugin, code: new api.ClawError("bad_request", "x").code }));`;
    const { stdout } = await run(process.execPath, ["--input-type=module", "--eval", script], { cwd: installed.directory });
    const result = JSON.parse(stdout) as { url: string; definePlugin: string; code: string };
    expect(result.url).toMatch(/\/node_modules\/clawbot\/dist\/index\.js$/);
    expect(result).toMatchObject({ definePlugin: "function", code: "bad_request" });

    const compiler = path.join(repositoryRoot, "node_modules", "typescript", "bin", "tsc");
    const options = ["--noEmit", "--strict", "--skipLibCheck", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2023"];
    const types = ["--typeRoots", path.join(repositoryRoot, "node_modules", "@types"), "--types", "node"];
    const compiled = await run(process.execPath, [compiler, ...options, ...types, "tag-plugin.ts"], { cwd: installed.directory }).catch((error: { stdout: string }) => error);
    expect(compiled.stdout).toBe("");
  });

  it("`clawbot start` loads the test model on the CPU and a TypeScript plugin, and answers", async () => {
    const cwd = installed.directory;
    const secret = randomBytes(32).toString("base64url");
    fs.writeFileSync(
      path.join(cwd, "clawbot.yaml"),
      [
        "agent: {temperature: 0, data_dir: ./data}",
        `gateways: [{type: http, port: 8080, auth: {type: jwt, secret: "${secret}"}}]`,
        "plugins: [{path: ./tag-plugin.ts, options: {tag: '[typescript plugin]'}}]",
      ].join("\n"),
    );
    const port = await freePort();
    const node = spawnCli(["start", "--config", "clawbot.yaml", "--model", await testModelPath(), "--port", String(port)], {
      cwd,
      env: sandboxEnv(cwd),
      binary: installed.binary,
    });
    const ready = await waitUntilReady(node, 60_000);
    expect(node.stdout() + node.stderr(), "the model-ready log line").toMatch(/"backend":"cpu"/);
    const client = new OpenAI({ baseURL: ready.httpUrl, apiKey: ready.token, maxRetries: 0, timeout: 30_000 });
    const completion = await client.chat.completions.create({
      model: "stories260K",
      messages: [{ role: "user", content: "Once upon a time" }],
      max_tokens: 16,
    });
    expect(completion.choices[0]?.message.content).toMatch(/^\[typescript plugin\] .*[a-z]{2,}/i);
    // The web chat ships in the package: its page and markdown-it's browser build are served from the installed files.
    const origin = new URL(ready.httpUrl as string).origin;
    const page = await fetch(`${origin}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    expect((await fetch(`${origin}/web/vendor/markdown-it.mjs`)).status).toBe(200);
    node.child.kill("SIGTERM");
    expect((await node.exited).code, node.describe()).toBe(0);
  });

  it("a missing dist/ in a package without sources is reported with the command that builds it", async () => {
    const copy = path.join(installed.directory, "unbuilt");
    fs.cpSync(path.join(installed.directory, "node_modules", "clawbot", "bin"), path.join(copy, "bin"), { recursive: true });
    fs.writeFileSync(path.join(copy, "package.json"), JSON.stringify({ type: "module" }));
    const result = await runCli(["--version"], { cwd: installed.directory, binary: path.join(copy, "bin", "clawbot.js") });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("run `npm run build`");
  });
});

/** A data: URL module for `node --import` that appends each resolved import's URL to `file`. */
function importRecorder(file: string): string {
  const hook = `import fs from "node:fs";
    export async function resolve(specifier, context, next) {
      const result = await next(specifier, context);
      fs.appendFileSync(${JSON.stringify(file)}, result.url + "\\n");
      return result;
    }`;
  const register = `import module from "node:module";
    module.register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
  return `data:text/javascript,${encodeURIComponent(register)}`;
}

/** "fastify" for …/node_modules/fastify/fastify.js, "@scope/name" for scoped packages; undefined outside node_modules. */
function packageOf(url: string): string | undefined {
  const match = url.match(/\/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)?.at(-1);
  return match?.slice("/node_modules/".length, -1);
}
