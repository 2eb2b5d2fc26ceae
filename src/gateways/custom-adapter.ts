// The public contract of a protocol adapter, and loading a user's adapter file named by a custom gateway entry.
import path from "node:path";
import type { z } from "zod";
import type { CustomGatewayConfig } from "../config/schema.js";
import { formatPath } from "../config/load.js";
import { importDefaultExport } from "../extensions/import-user-module.js";
import type { Gateway, GatewayContext } from "./gateway.js";

/** What an adapter module default-exports: its protocol name, the schema of its own options, and a factory. */
export interface GatewayAdapter<Options = Record<string, unknown>> {
  protocol: string;
  /** Validates the entry's own keys (everything but type, protocol and path); errors name the key. */
  options?: z.ZodType<Options, z.ZodTypeDef, unknown>;
  create(options: Options, context: GatewayContext): Gateway | Promise<Gateway>;
}

/** Identity function that gives an adapter definition its types. */
export function defineGatewayAdapter<Options>(adapter: GatewayAdapter<Options>): GatewayAdapter<Options> {
  return adapter;
}

/** Validates an entry's options with the adapter's schema, with messages that name gateways[i].key. */
export function adapterOptions<Options>(adapter: GatewayAdapter<Options>, config: CustomGatewayConfig, where: string): Options {
  const { type: _type, protocol: _protocol, path: _path, auth: _auth, ...rest } = config as CustomGatewayConfig & { path?: unknown; auth?: unknown };
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
    throw new Error(`Gateway adapter ${resolved} must default-export defineGatewayAdapter({protocol, options, create})`);
  }
  if (adapter.protocol !== protocol) {
    throw new Error(`Gateway adapter ${resolved} implements protocol "${adapter.protocol}", but the config names "${protocol}"`);
  }
  return adapter as GatewayAdapter<unknown>;
}
