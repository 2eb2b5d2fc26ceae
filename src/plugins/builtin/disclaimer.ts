// Built-in `disclaimer`: appends configured text to every answer, streaming the answer itself untouched.
import { z } from "zod";
import { BasePlugin } from "../base-plugin.js";
import type { PluginHooks, StreamTransform } from "../plugin-hooks.js";
import { parsePluginOptions } from "./plugin-options.js";

const disclaimerOptionsSchema = z.strictObject({
  /** The text appended to every answer. */
  text: z.string().min(1),
  /** Put between the answer and the text. */
  separator: z.string().default("\n\n"),
});

export type DisclaimerOptions = z.output<typeof disclaimerOptionsSchema>;

export class DisclaimerPlugin extends BasePlugin<DisclaimerOptions> implements PluginHooks {
  override name = "disclaimer";

  constructor(options?: Record<string, unknown>) {
    super(parsePluginOptions(disclaimerOptionsSchema, options));
  }

  postProcess(response: string): string {
    return `${response}${this.options.separator}${this.options.text}`;
  }

  transformStream(): StreamTransform {
    return { push: (text) => text, flush: () => `${this.options.separator}${this.options.text}` };
  }
}
