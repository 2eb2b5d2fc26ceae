// Every YAML/JSON block in README.md, README.zh-CN.md and docs/**: loaded as Clawbot config, parsed as a frame, or marked.
//
// A block is Clawbot config unless the line before it says otherwise (an HTML comment, invisible when rendered):
//   <!-- snippet: config -->                  the default: a config file (any of its top-level keys), loaded as written
//   <!-- snippet: config plugins[] -->        one entry (or a list of entries) of `plugins`; likewise gateways[], or a
//                                             top-level key (`config agent`: the keys of `agent`)
//   <!-- snippet: config example-paths -->    the plugin or adapter files it names are examples, not in the repository
//   <!-- snippet: config insecure-dev -->     it uses a weak JWT secret on purpose (checked as with --insecure-dev)
//   <!-- snippet: frame -->                   a client frame (src/gateways/frames.ts); mqtt-frame: with token/stream
//   <!-- snippet: not-config (why) -->        something else (an HTTP body, a training record): only its syntax is checked
// Config is checked as `clawbot start` checks it: the schema (src/config/load.ts), the exposure and secret rules, the
// plugins loaded (built-ins by name with their options, files relative to the repository root) and custom gateways
// resolved (enterprise_mqtt's keys, adapter files loaded with their options).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/load.js";
import type { ClawbotConfig, PluginEntry } from "../src/config/schema.js";
import { checkExposure } from "../src/daemon/exposure-check.js";
import { adapterOptions, loadGatewayAdapter } from "../src/gateways/custom-adapter.js";
import { parseClientFrame, parseTransportFrame } from "../src/gateways/frames.js";
import { checkBuiltinProtocolOptions, resolveGatewayConfig } from "../src/gateways/registry.js";
import { silentLogger } from "../src/logging/logger.js";
import { loadPlugins } from "../src/plugins/plugin-loader.js";
import { extractSnippets, parseMark, type MarkdownSnippet } from "./helpers/markdown-snippets.js";

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-doc-snippets-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const checkedLanguages = /^(ya?ml|json[a-z]*)$/;
const markKinds = new Set(["config", "not-config", "frame", "mqtt-frame"]);
const configFlags = new Set(["example-paths", "insecure-dev"]);

function documentationFiles(): string[] {
  const inDocs = (fs.readdirSync(path.join(repositoryRoot, "docs"), { recursive: true }) as string[])
    .filter((name) => name.endsWith(".md"))
    .map((name) => path.join("docs", name));
  return ["README.md", "README.zh-CN.md", ...inDocs.sort()];
}

const snippets = documentationFiles().flatMap((file) => extractSnippets(file, fs.readFileSync(path.join(repositoryRoot, file), "utf8")));
const checked = snippets.filter((snippet) => checkedLanguages.test(snippet.language));
const others = snippets.filter((snippet) => !checkedLanguages.test(snippet.language));
const cases = checked.map((snippet) => ({ name: `${snippet.file}:${snippet.line} (${snippet.language}, ${describeMark(snippet)})`, snippet }));

describe("documentation snippets", () => {
  it("finds the YAML/JSON blocks of every document", () => {
    const files = new Set(checked.map((snippet) => snippet.file));
    expect([...files]).toEqual(expect.arrayContaining(["README.md", "README.zh-CN.md", "docs/plugins.md", "docs/configuration.md", "docs/gateways.md"]));
    expect(checked.filter((snippet) => kindOf(snippet) === "config").length).toBeGreaterThanOrEqual(8);
  });

  it.each(cases)("$name", async ({ snippet }) => {
    const kind = kindOf(snippet);
    if (!markKinds.has(kind)) throw new Error(`unknown snippet mark "${kind}"; the marks are ${[...markKinds].join(", ")}`);
    const value = parseBlock(snippet);
    if (kind === "not-config") return;
    if (kind === "frame" || kind === "mqtt-frame") {
      const parsed = kind === "frame" ? parseClientFrame(snippet.text) : parseTransportFrame(snippet.text);
      if ("error" in parsed) throw new Error(`not a valid ${kind}: ${parsed.error.message}`);
      return;
    }
    await checkConfig(snippet, value);
  });

  it("leaves no block in another language that holds Clawbot config untagged", () => {
    const configKeys = new Set(["agent", "gateways", "plugins", "plugin_timeout", "limits", "sessions", "shutdown_grace", "log_level"]);
    const disguised = others.filter((snippet) => {
      if (!["", "text", "txt"].includes(snippet.language)) return false;
      try {
        const value: unknown = YAML.parse(snippet.text);
        return isMapping(value) && Object.keys(value).some((key) => configKeys.has(key));
      } catch {
        return false;
      }
    });
    expect(disguised.map((snippet) => `${snippet.file}:${snippet.line}`)).toEqual([]);
  });
});

describe("snippet extraction", () => {
  it("reads fences of any length, indented ones in list items, and the mark on the last non-blank line before them", () => {
    const markdown = [
      "<!-- snippet: config plugins[] -->",
      "",
      "```yaml",
      "- builtin: redact",
      "```",
      "- item:",
      "  <!-- snippet: not-config (a training record) -->",
      "  ````JSON",
      "  {\"a\": 1}",
      "  ```",
      "  ````",
      "text",
      "```",
      "untagged",
      "```",
    ].join("\n");
    const found = extractSnippets("x.md", markdown);
    expect(found.map(({ line, language, text, mark }) => ({ line, language, text, mark }))).toEqual([
      { line: 3, language: "yaml", text: "- builtin: redact", mark: { kind: "config", arguments: ["plugins[]"] } },
      { line: 8, language: "json", text: "{\"a\": 1}\n```", mark: { kind: "not-config", arguments: [] } },
      { line: 13, language: "", text: "untagged", mark: undefined },
    ]);
  });

  it("drops a parenthesised remark from a mark", () => {
    expect(parseMark("config example-paths (the plugin is the reader's own)")).toEqual({ kind: "config", arguments: ["example-paths"] });
  });
});

function kindOf(snippet: MarkdownSnippet): string {
  return snippet.mark?.kind ?? "config";
}

function describeMark(snippet: MarkdownSnippet): string {
  return snippet.mark ? [snippet.mark.kind, ...snippet.mark.arguments].join(" ") : "config";
}

/** The block's value, parsed as its language says (JSON strictly; YAML as the config loader reads it). */
function parseBlock(snippet: MarkdownSnippet): unknown {
  if (snippet.language === "jsonl") return snippet.text.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line) as unknown);
  if (snippet.language.startsWith("json")) return JSON.parse(snippet.text) as unknown;
  return YAML.parse(snippet.text, { prettyErrors: true }) as unknown;
}

async function checkConfig(snippet: MarkdownSnippet, value: unknown): Promise<void> {
  const flags = new Set<string>();
  let key: string | undefined;
  for (const argument of snippet.mark?.arguments ?? []) {
    if (configFlags.has(argument)) flags.add(argument);
    else if (key === undefined && /^[a-z_]+(\[\])?$/.test(argument)) key = argument;
    else throw new Error(`unknown config snippet argument "${argument}"; use a key (plugins[], gateways[], agent) or ${[...configFlags].join(", ")}`);
  }
  const directory = fs.mkdtempSync(path.join(scratch, "snippet-"));
  let configPath: string;
  if (key === undefined) {
    // A whole config file: loaded as written, so YAML quirks (a comma in a flow mapping) count.
    configPath = path.join(directory, snippet.language.startsWith("json") ? "clawbot.json" : "clawbot.yaml");
    fs.writeFileSync(configPath, snippet.text);
  } else {
    const document = key.endsWith("[]") ? { [key.slice(0, -2)]: Array.isArray(value) ? value : [value] } : { [key]: value };
    configPath = path.join(directory, "clawbot.json");
    fs.writeFileSync(configPath, JSON.stringify(document));
  }
  const { config } = loadConfig({ configPath, environment: environmentFor(snippet.text) });
  checkExposure(config, { insecureDev: flags.has("insecure-dev"), logger: silentLogger });
  await checkPlugins(config.plugins, flags.has("example-paths"));
  await checkGateways(config, flags.has("example-paths"));
}

/** A strong value for each `${VAR}` the block uses without a default, so placeholders for secrets load. */
function environmentFor(text: string): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = {};
  for (const [, name] of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) environment[name as string] = `doc-snippet-${name}-${"x".repeat(48)}`;
  return environment;
}

async function checkPlugins(entries: readonly PluginEntry[], examplePaths: boolean): Promise<void> {
  const loadable = entries.filter((entry) => !("path" in entry) || !examplePaths || fs.existsSync(path.resolve(repositoryRoot, entry.path)));
  if (examplePaths && loadable.length === entries.length && entries.some((entry) => "path" in entry)) {
    throw new Error("marked example-paths, but every plugin file it names is in the repository: drop the mark");
  }
  await loadPlugins(loadable, { baseDir: repositoryRoot });
}

async function checkGateways(config: ClawbotConfig, examplePaths: boolean): Promise<void> {
  for (const [index, gateway] of config.gateways.entries()) {
    const where = `gateways[${index}]`;
    const resolved = resolveGatewayConfig(gateway, where);
    if (resolved.type !== "custom") continue;
    // The work-IM adapters (wecom, dingtalk, feishu) are built in: their keys are checked by their own schemas.
    if (await checkBuiltinProtocolOptions(resolved, where)) continue;
    if (typeof resolved.path !== "string") throw new Error(`${where}: protocol "${resolved.protocol}" is not built in, and the entry names no adapter file (path)`);
    const file = path.resolve(repositoryRoot, resolved.path);
    if (examplePaths && !fs.existsSync(file)) continue;
    const adapter = await loadGatewayAdapter(resolved.path, repositoryRoot, resolved.protocol);
    adapterOptions(adapter, resolved, where);
  }
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
