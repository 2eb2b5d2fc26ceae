// The public contract of a protocol adapter, and loading a user's adapter file named by a custom gateway entry.
import path from "node:path";
import type { z } from "zod";
import type { CustomGatewayConfig } from "../config/schema.js";
import { formatPath } from "../config/load.js";
import { importDefaultExport } from "../extensions/import-user-module.js";
import type { Gateway, GatewayContext } from "./gateway.js";
import { isLoopback } from "./loopback-host.js";

/** Where a custom gateway can be reached from, and whether it checks its clients. */
export interface GatewayExposure {
  /** The host it listens on (or connects to); undefined when it opens nothing reachable over the network. */
  host: string | undefined;
  /** Whether every request it runs is checked with `context.authenticator` (the entry's `auth`). */
  authenticates: boolean;
}

/** What an adapter module default-exports: its protocol name, the schema of its own options, its exposure, and a factory. */
export interface GatewayAdapter<Options = Record<string, unknown>> {
  protocol: string;
  /** Validates the entry's own keys (everything but type, protocol, path and auth); errors name the key. */
  options?: z.ZodType<Options, z.ZodTypeDef, unknown>;
  /**
   * Declares, from its options, where the gateway listens and whether it authenticates: like the built-in gateways,
   * one on a non-loopback host that does not authenticate (or whose entry has `auth: {type: none}`) is refused at start.
   */
  exposure(options: Options): GatewayExposure;
  create(options: Options, context: GatewayContext): Gateway | Promise<Gateway>;
}

/** Identity function that gives an adapter definition its types. */
export function defineGatewayAdapter<Options>(adapter: GatewayAdapter<Options>): GatewayAdapter<Options> {
  return adapter;
}

/**
 * Validates an entry's options with the adapter's schema, with messages that name gateways[i].key, then applies the
 * exposure rule to what the adapter declares (checkAdapterExposure).
 */
export function adapterOptions<Options>(adapter: GatewayAdapter<Options>, config: CustomGatewayConfig, where: string): Options {
  const options = parseAdapterOptions(adapter, config, where);
  checkAdapterExposure(adapter.exposure(options), config, where);
  return options;
}

/**
 * The exposure rule of the built-in gateways, for a custom one: on a host other than loopback, the adapter must
 * authenticate its clients and the entry must configure `auth: {type: jwt}`; otherwise the start is refused.
 */
export function checkAdapterExposure(exposure: GatewayExposure, config: CustomGatewayConfig, where: string): void {
  const { host, authenticates } = exposure;
  if (host === undefined || isLoopback(host)) return;
  const auth = (config as { auth?: { type?: unknown } }).auth;
  const at = `${where} (${config.protocol} on ${host})`;
  if (!authenticates) throw new Error(`${at}: the adapter does not authenticate its clients, so binding to ${host} is refused; bind to 127.0.0.1`);
  if (auth?.type !== "jwt") throw new Error(`${at}: binding to ${host} with auth disabled is refused; configure auth (type: jwt) or bind to 127.0.0.1`);
}

function parseAdapterOptions<Options>(adapter: GatewayAdapter<Options>, config: CustomGatewayConfig, where: string): Options {
  const { type: _type, protocol: _protocol, path: _path, auth: _auth, agent: _agent, ...rest } = config as CustomGatewayConfig & { path?: unknown; auth?: unknown };
  if (!adapter.options) return rest as Options;
  const result = adapter.options.safeParse(rest);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = formatPath(issue.path);
    if (issue.code === "unrecognized_keys") return `${where}: unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((name) => `"${name}"`).join(", ")}`;
    return `${where}${key ? `.${key}` : ""}: ${issue.message}`;
  });
  throw new Error(`${config.protocol} gateway options are invalid:\n${problems.join("\n")}`);
}

/** Imports the adapter file (TypeScript or JavaScript, relative to the config) and checks its shape. */
export async function loadGatewayAdapter(file: string, baseDir: string, protocol: string): Promise<GatewayAdapter<unknown>> {
  const resolved = path.resolve(baseDir, file);
  let exported: unknown;
  try {
    exported = await importDefaultExport(resolved);
  } catch (error) {
    throw new Error(`Cannot load gateway adapter ${resolved}: ${(error as Error).message}`, { cause: error });
  }
  const adapter = exported as Partial<GatewayAdapter<unknown>> | undefined;
  if (!adapter || typeof adapter.create !== "function" || typeof adapter.protocol !== "string") {
    throw new Error(`Gateway adapter ${resolved} must default-export defineGatewayAdapter({protocol, options, exposure, create})`);
  }
  if (typeof adapter.exposure !== "function") {
    throw new Error(`Gateway adapter ${resolved} must declare exposure(options) → {host, authenticates}: where it listens and whether it checks its clients' tokens`);
  }
  if (adapter.protocol !== protocol) {
    throw new Error(`Gateway adapter ${resolved} implements protocol "${adapter.protocol}", but the config names "${protocol}"`);
  }
  return adapter as GatewayAdapter<unknown>;
}
