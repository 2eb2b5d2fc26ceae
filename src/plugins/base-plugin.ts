// The base class of class-style plugins: holds the options from the config; subclasses add the hooks they need.
import { pluginMarker } from "./plugin-hooks.js";

/**
 * Extend it and implement any of `preProcess(context)`, `postProcess(response, context)` and
 * `transformStream(context)` (see PluginHooks). The hooks are not declared here, so a subclass needs no
 * `override`; add `implements PluginHooks` to have their signatures checked.
 */
export abstract class BasePlugin<Options extends object = Record<string, unknown>> {
  static readonly [pluginMarker] = "class";

  /** The name plugin_error messages and logs use; the class name unless a subclass sets its own. */
  name: string;
  /** The entry's `options` from the config ({} when none). */
  readonly options: Options;

  constructor(options?: Options) {
    this.name = new.target.name;
    this.options = options ?? ({} as Options);
  }
}

/** A constructor of a BasePlugin subclass, recognised also when it extends another copy of the module. */
export type PluginClass = new (options?: Record<string, unknown>) => BasePlugin;

export function isPluginClass(value: unknown): value is PluginClass {
  return typeof value === "function" && (value as unknown as Record<symbol, unknown>)[pluginMarker] === "class";
}
