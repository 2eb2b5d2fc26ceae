// Turns the model's deltas into what the client receives: streamed through plugin transforms, or buffered for postProcess.
import { invalidResult, type HookCall } from "./hook-guard.js";
import { describeValue, type PluginContext } from "./plugin-context.js";
import type { LoadedPlugin, StreamTransform } from "./plugin-hooks.js";

/** What the pipeline feeds the model's text through; every result is text to deliver now ("" for nothing). */
export interface OutputProcessor {
  /** True when deltas stream through (every output plugin has transformStream); false when the answer is buffered. */
  readonly incremental: boolean;
  /**
   * True when a plugin may change the text (any transformStream or postProcess). The model's token logprobs then
   * describe text the client may never see, so the pipeline drops them.
   */
  readonly rewrites: boolean;
  push(text: string): Promise<string>;
  /** The end of the answer: held-back text (incremental), or the whole post-processed answer (buffered). */
  finish(): Promise<string>;
}

/** Runs a hook of one plugin under the host's timeout and error rules. */
export type HookRunner = <Result>(plugin: LoadedPlugin, hook: string, run: HookCall<Result>["run"]) => Promise<Result>;

/**
 * Nothing a postProcess would change may reach a client early: when any plugin that rewrites output has only
 * postProcess, the whole answer is buffered and delivered as one delta at the end; otherwise the transforms
 * are chained in config order and the answer streams.
 */
export async function createOutputProcessor(plugins: readonly LoadedPlugin[], context: PluginContext, runHook: HookRunner): Promise<OutputProcessor> {
  const rewriting = plugins.filter((plugin) => plugin.hooks.postProcess || plugin.hooks.transformStream);
  if (rewriting.length === 0) return passThrough;
  if (rewriting.every((plugin) => plugin.hooks.transformStream)) return chainTransforms(rewriting, context, runHook);
  return bufferForPostProcess(rewriting, context, runHook);
}

const passThrough: OutputProcessor = {
  incremental: true,
  rewrites: false,
  push: async (text) => text,
  finish: async () => "",
};

interface OpenTransform {
  plugin: LoadedPlugin;
  transform: StreamTransform;
}

async function openTransform(plugin: LoadedPlugin, context: PluginContext, runHook: HookRunner): Promise<OpenTransform> {
  const transform = await runHook(plugin, "transformStream", () => plugin.hooks.transformStream!(context));
  if (typeof transform !== "object" || transform === null || typeof transform.push !== "function" || typeof transform.flush !== "function") {
    throw invalidResult(plugin.name, "transformStream", `returned ${describeValue(transform)}; expected {push(text), flush()}`);
  }
  return { plugin, transform };
}

async function pushText(open: OpenTransform, text: string, runHook: HookRunner): Promise<string> {
  return expectText(open.plugin, "transformStream.push", await runHook(open.plugin, "transformStream.push", () => open.transform.push(text)));
}

async function flushText(open: OpenTransform, runHook: HookRunner): Promise<string> {
  return expectText(open.plugin, "transformStream.flush", await runHook(open.plugin, "transformStream.flush", () => open.transform.flush()));
}

async function chainTransforms(plugins: readonly LoadedPlugin[], context: PluginContext, runHook: HookRunner): Promise<OutputProcessor> {
  const chain: OpenTransform[] = [];
  for (const plugin of plugins) chain.push(await openTransform(plugin, context, runHook));
  return {
    incremental: true,
    rewrites: true,
    async push(text) {
      for (const open of chain) {
        if (text === "") return "";
        text = await pushText(open, text, runHook);
      }
      return text;
    },
    async finish() {
      // Each transform gets what the earlier ones flushed as a last push, then flushes itself.
      let text = "";
      for (const open of chain) text = (text === "" ? "" : await pushText(open, text, runHook)) + (await flushText(open, runHook));
      return text;
    },
  };
}

function bufferForPostProcess(plugins: readonly LoadedPlugin[], context: PluginContext, runHook: HookRunner): OutputProcessor {
  let answer = "";
  return {
    incremental: false,
    rewrites: true,
    async push(text) {
      answer += text;
      return "";
    },
    async finish() {
      let text = answer;
      for (const plugin of plugins) {
        const { postProcess } = plugin.hooks;
        if (postProcess) {
          text = expectText(plugin, "postProcess", await runHook(plugin, "postProcess", () => postProcess(text, context)));
        } else {
          // A plugin with only transformStream: its transform over the whole answer at once.
          const open = await openTransform(plugin, context, runHook);
          text = (await pushText(open, text, runHook)) + (await flushText(open, runHook));
        }
      }
      return text;
    },
  };
}

function expectText(plugin: LoadedPlugin, hook: string, value: unknown): string {
  if (typeof value !== "string") throw invalidResult(plugin.name, hook, `returned ${describeValue(value)}; expected a string`);
  return value;
}
