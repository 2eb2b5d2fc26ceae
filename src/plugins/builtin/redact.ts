// Built-in `redact`: masks ID, phone, e-mail, bank card numbers, listed names, labelled fields and custom patterns in input and output.
import { z } from "zod";
import { BasePlugin } from "../base-plugin.js";
import type { PluginContext } from "../plugin-context.js";
import type { PluginHooks, StreamTransform } from "../plugin-hooks.js";
import {
  bankCardDetector,
  customDetector,
  emailDetector,
  idCardDetector,
  labelledDetector,
  namesDetector,
  phoneDetector,
  type Detector,
} from "./detectors.js";
import { parsePluginOptions } from "./plugin-options.js";
import { Redactor, type RedactionCounts } from "./redactor.js";

export const builtinDetectorKinds = ["id_card", "phone", "email", "bank_card", "labelled"] as const;

export const defaultLabels = ["患者姓名", "病人姓名", "姓名", "身份证号码", "身份证号", "联系电话", "手机号码", "手机号", "电话", "家庭住址", "住址", "病历号"];

const patternSchema = z.strictObject({
  /** The kind its matches are counted as. */
  name: z.string().min(1).default("custom"),
  regex: z.string().min(1),
  flags: z.string().regex(/^[imsu]*$/, "only the flags i, m, s and u").default(""),
  /** The longest text a match (with any look-ahead) can span: a stream holds back this many characters. */
  max_length: z.number().int().min(1).max(10_000).default(64),
});

const redactOptionsSchema = z.strictObject({
  replacement: z.string().default("[脱敏]"),
  /** Built-in detectors to run; names, labels and patterns come on top. */
  detect: z.array(z.enum(builtinDetectorKinds)).default([...builtinDetectorKinds]),
  names: z.array(z.string().min(1)).default([]),
  /** Field labels whose value is masked in `label: value` / `label：value`. */
  labels: z.array(z.string().min(1)).default(defaultLabels),
  /** Longest labelled value masked. */
  max_value_length: z.number().int().min(1).max(200).default(32),
  patterns: z.array(patternSchema).default([]),
  apply_to: z.array(z.enum(["input", "output"])).min(1).default(["input", "output"]),
});

export type RedactOptions = z.output<typeof redactOptionsSchema>;

/** Redaction counts per direction and kind. */
export interface RedactionTotals {
  input: RedactionCounts;
  output: RedactionCounts;
}

export class RedactPlugin extends BasePlugin<RedactOptions> implements PluginHooks {
  override name = "redact";
  readonly redactor: Redactor;
  private readonly totals: RedactionTotals = { input: {}, output: {} };

  constructor(options?: Record<string, unknown>) {
    super(parsePluginOptions(redactOptionsSchema, options));
    this.redactor = new Redactor(buildDetectors(this.options), this.options.replacement);
  }

  /** Matches masked since the node started, per direction and kind (for metrics and audit). */
  get counts(): RedactionTotals {
    return { input: { ...this.totals.input }, output: { ...this.totals.output } };
  }

  /** Masks the input and every other message that reaches the model; this request's counts go to metadata.redact.input. */
  preProcess(context: PluginContext): PluginContext {
    if (!this.options.apply_to.includes("input")) return context;
    const counts: RedactionCounts = {};
    context.input = this.redactor.redact(context.input, counts);
    for (const message of context.messages) message.content = this.redactor.redact(message.content, counts);
    this.record(context, "input", counts);
    return context;
  }

  postProcess(response: string, context: PluginContext): string {
    if (!this.options.apply_to.includes("output")) return response;
    const counts: RedactionCounts = {};
    const text = this.redactor.redact(response, counts);
    this.record(context, "output", counts);
    return text;
  }

  transformStream(context: PluginContext): StreamTransform {
    if (!this.options.apply_to.includes("output")) return { push: (text) => text, flush: () => "" };
    const counts: RedactionCounts = {};
    const stream = this.redactor.createStream(counts);
    return {
      push: (text) => stream.push(text),
      flush: () => {
        const text = stream.flush();
        this.record(context, "output", counts);
        return text;
      },
    };
  }

  private record(context: PluginContext, direction: "input" | "output", counts: RedactionCounts): void {
    const perRequest = (context.metadata.redact ??= { input: {}, output: {} }) as RedactionTotals;
    for (const [kind, count] of Object.entries(counts)) {
      perRequest[direction][kind] = (perRequest[direction][kind] ?? 0) + count;
      this.totals[direction][kind] = (this.totals[direction][kind] ?? 0) + count;
    }
  }
}

function buildDetectors(options: RedactOptions): Detector[] {
  const detectors: Detector[] = [];
  const enabled = new Set(options.detect);
  if (enabled.has("labelled") && options.labels.length > 0) detectors.push(labelledDetector(options.labels, options.max_value_length));
  if (enabled.has("id_card")) detectors.push(idCardDetector());
  if (enabled.has("bank_card")) detectors.push(bankCardDetector());
  if (enabled.has("phone")) detectors.push(phoneDetector());
  if (enabled.has("email")) detectors.push(emailDetector());
  if (options.names.length > 0) detectors.push(namesDetector(options.names));
  for (const [index, pattern] of options.patterns.entries()) {
    try {
      detectors.push(customDetector(pattern.name, pattern.regex, pattern.flags, pattern.max_length));
    } catch (error) {
      throw new TypeError(`options.patterns[${index}].regex: ${(error as Error).message}`);
    }
  }
  return detectors;
}
