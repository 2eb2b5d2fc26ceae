// The closed list of plugin hooks, their signatures, and the shape every loaded plugin is reduced to.
import type { NodeTool } from "../tools/tool-types.js";
import type { PluginContext } from "./plugin-context.js";

/** Every hook a plugin may implement; anything else is refused when the plugin loads. */
export const hookNames = ["preProcess", "postProcess", "transformStream"] as const;

export type HookName = (typeof hookNames)[number];

export function isHookName(value: string): value is HookName {
  return (hookNames as readonly string[]).includes(value);
}

/** An incremental rewrite of the streamed answer: text in, text to deliver now out; `flush` gives what was held back. */
export interface StreamTransform {
  push(text: string): string | Promise<string>;
  flush(): string | Promise<string>;
}

/** The hooks a plugin may implement; a class extending BasePlugin can declare `implements PluginHooks` for type checks. */
export interface PluginHooks {
  /** Before the prompt is built: change `context.input` / `context.messages`, attach metadata, or reject. */
  preProcess?(context: PluginContext): PluginContext | void | Promise<PluginContext | void>;
  /** The whole answer in, what the client receives out. */
  postProcess?(response: string, context: PluginContext): string | Promise<string>;
  /**
   * The same rewrite as postProcess, done while the answer streams: lets the answer stream instead of being
   * delivered in one piece. It must produce exactly what postProcess would over the whole answer.
   */
  transformStream?(context: PluginContext): StreamTransform | Promise<StreamTransform>;
}

/** A plugin as the host sees it: a name for messages and the hooks it implements, bound to their plugin. */
export interface LoadedPlugin {
  readonly name: string;
  readonly hooks: PluginHooks;
  /** The instance of a class plugin, for whoever reads its state (metrics read RedactPlugin's counts). */
  readonly instance?: object;
  /** Tools it offers the agent (`api.addTool`, a class plugin's `tools()`). */
  readonly tools?: readonly NodeTool[];
}

/** Marks plugin classes and definitions across module copies (a plugin may import a different copy of "clawbot"). */
export const pluginMarker: unique symbol = Symbol.for("clawbot.plugin");
