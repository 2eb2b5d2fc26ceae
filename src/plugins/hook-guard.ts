// Runs one plugin hook under the timeout and turns whatever goes wrong into a plugin_error naming the plugin.
import { ClawError, isErrorCode } from "../core/errors.js";
import type { Logger } from "../logging/logger.js";
import { rejectCodes } from "./plugin-context.js";

export interface HookCall<Result> {
  plugin: string;
  /** The hook's name for messages, e.g. "preProcess" or "transformStream.push". */
  hook: string;
  timeoutMs: number;
  logger: Logger;
  /** Whether a ClawError forbidden / bad_request from the hook reaches the client as it is (preProcess). */
  mayReject?: boolean;
  run: () => Result | Promise<Result>;
}

/**
 * Calls the hook. A synchronous result needs no timer; a promise must settle within `timeoutMs`. A synchronous
 * hook that never returns cannot be interrupted in-process: the timeout covers asynchronous hooks.
 */
export async function guardHook<Result>(call: HookCall<Result>): Promise<Result> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = call.run();
    if (!isPromiseLike(result)) return result;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new HookTimeout()), call.timeoutMs);
    });
    return await Promise.race([Promise.resolve(result), timeout]);
  } catch (error) {
    throw toPluginError(error, call);
  } finally {
    clearTimeout(timer);
  }
}

/** The message a client sees: the plugin, the hook, and what happened (the first line of the error, never a stack). */
function toPluginError(error: unknown, call: HookCall<unknown>): ClawError {
  if (error instanceof HookTimeout) {
    call.logger.warn({ plugin: call.plugin, hook: call.hook, timeout_ms: call.timeoutMs }, "plugin hook timed out");
    return new ClawError("plugin_error", `plugin ${call.plugin}: ${call.hook} timed out after ${call.timeoutMs} ms`);
  }
  if (call.mayReject && isRejection(error)) return new ClawError(error.code, error.message, { cause: error });
  call.logger.warn({ err: error, plugin: call.plugin, hook: call.hook }, "plugin hook failed");
  return new ClawError("plugin_error", `plugin ${call.plugin}: ${call.hook} threw: ${summarize(error)}`, { cause: error });
}

/** A ClawError with a reject code, also from another copy of the module (checked by shape, not instanceof). */
function isRejection(error: unknown): error is ClawError & { code: "forbidden" | "bad_request" } {
  if (!(error instanceof Error) || error.name !== "ClawError") return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && isErrorCode(code) && (rejectCodes as readonly string[]).includes(code);
}

function summarize(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const firstLine = text.split("\n", 1)[0]?.trim() || (error instanceof Error ? error.name : "an error");
  return firstLine.length > 200 ? `${firstLine.slice(0, 200)}…` : firstLine;
}

function isPromiseLike<Value>(value: Value | Promise<Value>): value is Promise<Value> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}

class HookTimeout extends Error {}

/** The error for a hook that returned something the host cannot use. */
export function invalidResult(plugin: string, hook: string, problem: string): ClawError {
  return new ClawError("plugin_error", `plugin ${plugin}: ${hook} ${problem}`);
}
