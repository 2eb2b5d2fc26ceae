// Runs the loaded plugins' hooks for one request, in config order, each under the configured timeout.
import type { Logger } from "../logging/logger.js";
import { guardHook, invalidResult, type HookCall } from "./hook-guard.js";
import { describeInvalidContext, describeValue, type PluginContext } from "./plugin-context.js";
import type { LoadedPlugin } from "./plugin-hooks.js";
import { createOutputProcessor, type HookRunner, type OutputProcessor } from "./stream-transform.js";

export interface PluginHostOptions {
  /** Milliseconds each hook call may take (config `plugin_timeout` × 1000). */
  timeoutMs: number;
  logger: Logger;
  /** Told of every hook call once it settled (the metrics); must be cheap and not throw. */
  onHook?: (timing: HookTiming) => void;
}

/** One hook call: which, how long, and whether it failed (threw, timed out, returned something invalid). */
export interface HookTiming {
  plugin: string;
  /** "preProcess", "postProcess", "transformStream", "transformStream.push", "transformStream.flush". */
  hook: string;
  seconds: number;
  /** A plugin_error; a preProcess refusing the request (forbidden, bad_request) is not a failure. */
  failed: boolean;
}

export class PluginHost {
  private readonly runHook: HookRunner;

  constructor(
    readonly plugins: readonly LoadedPlugin[],
    private readonly options: PluginHostOptions,
  ) {
    this.runHook = (plugin, hook, run) => this.guard({ plugin: plugin.name, hook, run, timeoutMs: options.timeoutMs, logger: options.logger });
  }

  /** A host without plugins: input and answer pass through unchanged. */
  static empty(logger: Logger): PluginHost {
    return new PluginHost([], { timeoutMs: 2000, logger });
  }

  /**
   * Every preProcess, first to last, on the same context. Throws plugin_error for a failing plugin, or the
   * plugin's own forbidden / bad_request refusal.
   */
  async preProcess(context: PluginContext): Promise<void> {
    for (const plugin of this.plugins) {
      const { preProcess } = plugin.hooks;
      if (!preProcess) continue;
      const returned = await this.guard({
        plugin: plugin.name,
        hook: "preProcess",
        run: () => preProcess(context),
        timeoutMs: this.options.timeoutMs,
        logger: this.options.logger,
        mayReject: true,
      });
      if (returned !== undefined && returned !== context) adoptReturnedContext(plugin, context, returned);
      const problem = describeInvalidContext(context);
      if (problem) throw invalidResult(plugin.name, "preProcess", problem);
    }
  }

  /** How this request's answer reaches the client (see createOutputProcessor). */
  createOutput(context: PluginContext): Promise<OutputProcessor> {
    return createOutputProcessor(this.plugins, context, this.runHook);
  }

  /** guardHook, timed for `onHook` when it is set. */
  private async guard<Result>(call: HookCall<Result>): Promise<Result> {
    const onHook = this.options.onHook;
    if (!onHook) return guardHook(call);
    const startedAt = performance.now();
    let failed = false;
    try {
      return await guardHook(call);
    } catch (error) {
      failed = (error as { code?: unknown }).code === "plugin_error";
      throw error;
    } finally {
      try {
        onHook({ plugin: call.plugin, hook: call.hook, seconds: (performance.now() - startedAt) / 1000, failed });
      } catch {
        // The metrics never fail a request.
      }
    }
  }
}

/** A preProcess that returns a new object instead of the context it was given: take its fields. */
function adoptReturnedContext(plugin: LoadedPlugin, context: PluginContext, returned: unknown): void {
  if (typeof returned !== "object" || returned === null || Array.isArray(returned)) {
    throw invalidResult(plugin.name, "preProcess", `returned ${describeValue(returned)}; expected the context (or nothing)`);
  }
  const fields = returned as Partial<PluginContext>;
  if ("input" in fields) context.input = fields.input as string;
  if ("messages" in fields) context.messages = fields.messages as PluginContext["messages"];
  if ("metadata" in fields) context.metadata = fields.metadata as PluginContext["metadata"];
}
