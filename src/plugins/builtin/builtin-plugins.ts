// The built-in plugins a config names with `builtin:`.
import type { PluginClass } from "../base-plugin.js";
import { DisclaimerPlugin } from "./disclaimer.js";
import { RedactPlugin } from "./redact.js";

export const builtinPlugins: Readonly<Record<string, PluginClass>> = {
  redact: RedactPlugin,
  disclaimer: DisclaimerPlugin,
};
