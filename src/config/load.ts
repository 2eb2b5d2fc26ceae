// Reads clawbot.yaml (or the seed's agent YAML + gateways JSON), interpolates ${ENV}, validates, resolves paths.
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import type { z } from "zod";
import { configSchema, type ClawbotConfig } from "./schema.js";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export interface LoadConfigOptions {
  /** One file holding `agent:` and/or `gateways:` (YAML or JSON). */
  configPath?: string;
  /** The seed's agent YAML (top-level `agent:`). */
  agentPath?: string;
  /** The seed's gateways JSON (top-level `gateways:`). */
  gatewaysPath?: string;
  /** Environment for ${VAR} interpolation; process.env by default. */
  environment?: NodeJS.ProcessEnv;
}

export interface LoadedConfig {
  config: ClawbotConfig;
  /** Directory relative paths in the config are resolved against. */
  baseDir: string;
  /** The files the config came from, for messages. */
  sources: string[];
}

/** Loads, merges and validates configuration; every failure is a ConfigError naming file, key path and expectation. */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const environment = options.environment ?? process.env;
  const files = [options.configPath, options.agentPath, options.gatewaysPath].filter((file): file is string => Boolean(file));
  const merged: Record<string, unknown> = {};
  const origin = new Map<string, string>();
  for (const file of files) {
    const document = interpolate(readDocument(file), environment, file, []);
    if (document === null || typeof document !== "object" || Array.isArray(document)) {
      throw new ConfigError(`${file}: expected a mapping at the top level (keys such as agent: and gateways:)`);
    }
    for (const [key, value] of Object.entries(document)) {
      if (origin.has(key)) throw new ConfigError(`${file}: key "${key}" is also defined in ${origin.get(key)}`);
      origin.set(key, file);
      merged[key] = value;
    }
  }
  applyEnvironmentOverrides(merged, environment);
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const fallback = files[0] ?? "(defaults)";
    throw new ConfigError(result.error.issues.map((issue) => describeIssue(issue, origin, fallback)).join("\n"));
  }
  const baseDir = path.dirname(path.resolve(options.configPath ?? options.agentPath ?? options.gatewaysPath ?? "clawbot.yaml"));
  return { config: Object.freeze(result.data) as ClawbotConfig, baseDir, sources: files.map((file) => path.resolve(file)) };
}

/**
 * `CLAWBOT_METRICS_PORT` overrides `metrics.port` (0: any free port), so several nodes (or a node and a Prometheus
 * on its default 9090) share a host without editing their files.
 */
function applyEnvironmentOverrides(merged: Record<string, unknown>, environment: NodeJS.ProcessEnv): void {
  const metricsPort = environment.CLAWBOT_METRICS_PORT;
  if (metricsPort === undefined || metricsPort === "") return;
  if (!/^\d{1,5}$/.test(metricsPort) || Number(metricsPort) > 65535) {
    throw new ConfigError(`CLAWBOT_METRICS_PORT: expected a port number (0-65535), got "${metricsPort}"`);
  }
  const metrics = merged.metrics;
  merged.metrics = { ...(metrics !== null && typeof metrics === "object" ? metrics : {}), port: Number(metricsPort) };
}

function readDocument(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (error as Error).message;
    throw new ConfigError(`${file}: cannot read config (${reason})`);
  }
  try {
    // YAML 1.2 is a superset of JSON, so one parser reads both formats.
    return YAML.parse(text, { prettyErrors: true });
  } catch (error) {
    throw new ConfigError(`${file}: not valid YAML/JSON: ${(error as Error).message}`);
  }
}

const placeholder = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces ${VAR} and ${VAR:-default} in every string; an unset variable without default is an error. `keyPath` and
 * `ancestors` are stacks shared down the recursion (pushed and popped), so a deeply nested document costs linear memory.
 */
function interpolate(value: unknown, environment: NodeJS.ProcessEnv, file: string, keyPath: (string | number)[], ancestors = new Set<object>()): unknown {
  if (typeof value === "string") {
    return value.replace(placeholder, (_match, name: string, fallback: string | undefined) => {
      const found = environment[name];
      if (found !== undefined) return found;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(`${file}: ${formatPath(keyPath)}: environment variable ${name} is not set`);
    });
  }
  if (value === null || typeof value !== "object") return value;
  // A YAML alias can name its own ancestor (`a: &a [*a]`): an endless document, refused instead of overflowing the stack.
  if (ancestors.has(value)) throw new ConfigError(`${file}: ${formatPath(keyPath)}: a YAML alias refers to itself`);
  ancestors.add(value);
  const child = (key: string | number, item: unknown) => {
    keyPath.push(key);
    try {
      return interpolate(item, environment, file, keyPath, ancestors);
    } finally {
      keyPath.pop();
    }
  };
  try {
    if (Array.isArray(value)) return value.map((item, index) => child(index, item));
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, child(key, item)]));
  } finally {
    ancestors.delete(value);
  }
}

function describeIssue(issue: z.ZodIssue, origin: Map<string, string>, fallback: string): string {
  const top = issue.path[0];
  const file = (typeof top === "string" && origin.get(top)) || fallback;
  const where = formatPath(issue.path);
  if (issue.code === "unrecognized_keys") {
    return `${file}: ${where ? `${where}: ` : ""}unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((key) => `"${key}"`).join(", ")}`;
  }
  if (issue.code === "invalid_type") return `${file}: ${where}: expected ${issue.expected}, got ${issue.received}`;
  if (issue.code === "invalid_union_discriminator") {
    return `${file}: ${where}: expected one of ${issue.options.map((option) => JSON.stringify(option)).join(", ")}`;
  }
  return `${file}: ${where}: ${issue.message}`;
}

export function formatPath(keyPath: readonly (string | number)[]): string {
  return keyPath.map((key, index) => (typeof key === "number" ? `[${key}]` : index === 0 ? key : `.${key}`)).join("");
}

/** Resolves a path from the config against the config's directory. */
export function resolveFromConfig(baseDir: string, file: string): string {
  return path.resolve(baseDir, file);
}
