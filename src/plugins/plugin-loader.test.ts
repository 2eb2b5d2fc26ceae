// Loading plugins: the seed's TypeScript plugin, both plugin forms, built-ins, and start errors that name the file.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../config/load.js";
import { pluginEntrySchema } from "../config/schema.js";
import { createPluginContext } from "./plugin-context.js";
import { loadPlugins } from "./plugin-loader.js";

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const fixtures = path.join(repositoryRoot, "test", "fixtures", "plugins");
const entries = (...values: unknown[]) => values.map((value) => pluginEntrySchema.parse(value));
const load = (...values: unknown[]) => loadPlugins(entries(...values), { baseDir: repositoryRoot });
const loadError = (...values: unknown[]) => load(...values).then(() => undefined, (error: unknown) => error as Error);
const context = (input: string) => createPluginContext({ input, messages: [], principal: { subject: "a", roles: [], scopes: [], claims: {} }, requestId: "r" });

describe("loadPlugins", () => {
  it("loads the seed's medical plugin from TypeScript, importing from \"clawbot\", relative to the config", async () => {
    const [medical] = await load({ path: "./examples/plugins/medical-audit.ts" });
    expect(medical?.name).toBe("MedicalAuditPlugin");
    expect(Object.keys(medical?.hooks ?? {}).sort()).toEqual(["postProcess", "preProcess"]);
    const given = context("患者姓名：张三");
    await medical?.hooks.preProcess?.(given);
    expect(given.input).toBe("[脱敏]：张三");
    expect(await medical?.hooks.postProcess?.("答复", given)).toBe("答复\n\n本回复仅供参考,不构成医疗建议");
  });

  it("keeps config order, passes options, and loads definePlugin plugins and built-ins", async () => {
    const plugins = await load(
      { builtin: "redact", options: { names: ["张三"] } },
      { path: path.join(fixtures, "gatekeeper-plugin.ts"), options: { forbidden: "weapons" } },
      { builtin: "disclaimer", options: { text: "仅供参考" } },
      { path: "test/fixtures/plugins/word-rewrite-plugin.ts", options: { word: "a", replacement: "b" } },
    );
    expect(plugins.map((plugin) => plugin.name)).toEqual(["redact", "gatekeeper", "disclaimer", "WordRewritePlugin"]);
    expect(Object.keys(plugins[1]?.hooks ?? {})).toEqual(["preProcess", "transformStream"]);
    expect(() => plugins[1]?.hooks.preProcess?.(context("about weapons"))).toThrow(/weapons/);
  });

  it("stops with a ConfigError naming the entry and file for every kind of broken plugin", async () => {
    const cases: [unknown, RegExp][] = [
      [{ path: "./plugins/missing.ts" }, /^plugins\[0\] \(\.\/plugins\/missing\.ts → .*missing\.ts\): no such file$/],
      [{ path: "test/fixtures/plugins/broken-syntax-plugin.js" }, /^plugins\[0\] \(test\/fixtures\/plugins\/broken-syntax-plugin\.js → .*\): cannot be loaded: /],
      [{ path: "test/fixtures/plugins/unknown-hook-plugin.ts" }, /unknown-hook-plugin\.ts.*: is invalid: unknown hook "onToken"; the hooks are preProcess, postProcess, transformStream$/],
      [{ path: "test/fixtures/plugins/python-style-plugin.ts" }, /python-style-plugin\.ts.*: it defines pre_process; the hook is called preProcess$/],
      [{ path: "package.json" }, /package\.json.*: is invalid: the default export is neither a class extending BasePlugin nor the result of definePlugin/],
      [{ builtin: "translate" }, /^plugins\[0\]: unknown builtin "translate"; the built-ins are redact, disclaimer$/],
      [{ builtin: "disclaimer" }, /^plugins\[0\] \(builtin disclaimer\): is invalid: options\.text: Required$/],
    ];
    for (const [entry, expected] of cases) {
      const error = await loadError(entry);
      expect(error, JSON.stringify(entry)).toBeInstanceOf(ConfigError);
      expect(error?.message, JSON.stringify(entry)).toMatch(expected);
    }
    const second = await loadError({ builtin: "redact" }, { path: "./nope.ts" });
    expect(second?.message).toMatch(/^plugins\[1\]/);
  });

  it("loads plugins outside the package that import \"clawbot\", as ES module and as CommonJS, under tsx as `clawbot start` runs", async () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-plugin-"));
    const source = (name: string) =>
      `import { BasePlugin, ClawError, type PluginContext } from "clawbot";\n` +
      `export default class ${name} extends BasePlugin {\n` +
      `  postProcess(response: string, _context: PluginContext): string { return response.toUpperCase(); }\n` +
      `  preProcess(context: PluginContext) { if (context.input === "no") throw new ClawError("forbidden", "refused"); }\n}\n`;
    // Without a package.json saying "type": "module", tsx compiles a .ts file to CommonJS; .mts is always an ES module.
    fs.writeFileSync(path.join(directory, "shout.ts"), source("CommonJsShout"));
    fs.writeFileSync(path.join(directory, "shout.mts"), source("ModuleShout"));
    const script = path.join(directory, "load.mts");
    fs.writeFileSync(
      script,
      `import { loadPlugins } from ${JSON.stringify(path.join(repositoryRoot, "src", "plugins", "plugin-loader.ts"))};\n` +
        `import { PluginHost } from ${JSON.stringify(path.join(repositoryRoot, "src", "plugins", "plugin-host.ts"))};\n` +
        `import { silentLogger } from ${JSON.stringify(path.join(repositoryRoot, "src", "logging", "logger.ts"))};\n` +
        `const plugins = await loadPlugins([{ path: "./shout.ts", options: {} }, { path: "./shout.mts", options: {} }], { baseDir: ${JSON.stringify(directory)} });\n` +
        `const refusals = await Promise.all(plugins.map((plugin) => new PluginHost([plugin], { timeoutMs: 100, logger: silentLogger }).preProcess({ input: "no" }).catch((error) => error.code)));\n` +
        `console.log(plugins.map((plugin) => plugin.name).join(" "), plugins[0].hooks.postProcess("quiet", {}), refusals.join(" "));\n`,
    );
    const run = promisify(execFile);
    const { stdout } = await run(process.execPath, ["--import", "tsx", script], { cwd: repositoryRoot, env: { ...process.env, NODE_OPTIONS: "" } });
    expect(stdout.trim()).toBe("CommonJsShout ModuleShout QUIET forbidden forbidden");
  });
});
