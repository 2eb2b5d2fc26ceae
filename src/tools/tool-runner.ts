// Runs one call of a node-side tool: checks it may run (offered, arguments valid, approved), runs it under a timeout, and reports how it went.
import { Ajv, type ValidateFunction } from "ajv";
import type { ToolCall, ToolOutcome } from "../core/types.js";
import type { NodeTool, ToolRunContext } from "./tool-types.js";

export interface ToolRunnerOptions {
  /** Milliseconds one call may run (config `tools.timeout`). */
  timeoutMs: number;
  /** A result is cut to this many characters before it goes back to the model. */
  maxResultChars: number;
}

/** How one call went: what goes back to the model as the tool's message, and for the audit. */
export interface ToolCallResult {
  outcome: ToolOutcome;
  /** The tool's result, or why it did not run (the model reads it and may try again). */
  content: string;
  /** The result's length before it was cut. */
  resultChars: number;
  durationMs: number;
  /** The tool's source (`plugin:x`, `mcp:server`, `builtin`), when the call named a known tool. */
  source: string | undefined;
}

/** Asks the client to approve a `confirm: true` call; resolves false when it refuses or does not answer in time. */
export type ApproveCall = (call: ToolCall) => Promise<boolean>;

export class ToolRunner {
  private readonly ajv = new Ajv({ allErrors: true, strict: false });
  /** Compiled validators by schema text (tools keep their schema; MCP servers may change one, which compiles anew). */
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly options: ToolRunnerOptions) {}

  /**
   * Runs `call` if it names one of `offered`; `known` tells a tool that exists but is not granted (forbidden) from one
   * that does not exist. Never throws: every way it can end is an outcome with a message for the model.
   */
  async run(call: ToolCall, offered: ReadonlyMap<string, NodeTool>, context: ToolRunContext, options: { known?: (name: string) => boolean; approve?: ApproveCall } = {}): Promise<ToolCallResult> {
    const startedAt = performance.now();
    const end = (outcome: ToolOutcome, content: string, tool?: NodeTool): ToolCallResult => {
      const cut = content.length > this.options.maxResultChars ? `${content.slice(0, this.options.maxResultChars)}\n[cut: ${content.length} characters in all]` : content;
      return { outcome, content: cut, resultChars: content.length, durationMs: performance.now() - startedAt, source: tool?.source };
    };
    if (call.name === "") return end("invalid_arguments", `Error: the tool call could not be read: ${call.arguments.slice(0, 200)}`);
    const tool = offered.get(call.name);
    if (!tool) {
      if (options.known?.(call.name)) return end("forbidden", `Error: you may not use the tool "${call.name}".`);
      return end("error", `Error: there is no tool named "${call.name}". The tools are: ${[...offered.keys()].join(", ") || "none"}.`);
    }
    let args: unknown;
    try {
      args = JSON.parse(call.arguments);
    } catch (error) {
      return end("invalid_arguments", `Error: the arguments are not JSON (${(error as Error).message}).`, tool);
    }
    const validate = this.validator(tool);
    if (typeof args !== "object" || args === null || Array.isArray(args) || !validate(args)) {
      const problems = validate.errors?.map((error) => `${error.instancePath || "arguments"} ${error.message ?? "is invalid"}`).join("; ") ?? "arguments must be a JSON object";
      return end("invalid_arguments", `Error: the arguments do not match the tool's schema: ${problems}.`, tool);
    }
    if (typeof tool.confirm === "function" ? tool.confirm(args as Record<string, unknown>) : tool.confirm) {
      if (!options.approve) return end("denied", `Error: "${tool.name}" needs the user's approval, which this channel cannot ask for; it did not run.`, tool);
      if (!(await options.approve(call))) return end("denied", `The user did not approve this call of "${tool.name}"; it did not run.`, tool);
    }
    const controller = new AbortController();
    const stop = () => controller.abort();
    context.signal.addEventListener("abort", stop, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve("timeout");
      }, this.options.timeoutMs);
    });
    try {
      const result = await Promise.race([tool.run(args as Record<string, unknown>, { ...context, signal: controller.signal }), timedOut]);
      if (result === "timeout") return end("timeout", `Error: "${tool.name}" did not answer within ${this.options.timeoutMs / 1000} s.`, tool);
      return end("ok", typeof result === "string" ? result : (JSON.stringify(result) ?? "null"), tool);
    } catch (error) {
      return end("error", `Error: ${(error as Error)?.message ?? String(error)}`, tool);
    } finally {
      clearTimeout(timer);
      context.signal.removeEventListener("abort", stop);
    }
  }

  private validator(tool: NodeTool): ValidateFunction {
    const key = JSON.stringify(tool.parameters);
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(tool.parameters);
      this.validators.set(key, validate);
      if (this.validators.size > 256) this.validators.delete(this.validators.keys().next().value as string);
    }
    return validate;
  }
}
