// The plugin host: hook order, refusals, timeouts, errors that name the plugin, and buffered vs streamed output.
import { describe, expect, it } from "vitest";
import { ClawError } from "../core/errors.js";
import { silentLogger } from "../logging/logger.js";
import { createPluginContext, type PluginContext } from "./plugin-context.js";
import type { LoadedPlugin, PluginHooks } from "./plugin-hooks.js";
import { PluginHost } from "./plugin-host.js";

const principal = { subject: "alice", roles: [], scopes: [], claims: {} };
const newContext = (input = "hello") => createPluginContext({ input, messages: [], principal, requestId: "r1", gateway: "test" });
const plugin = (name: string, hooks: PluginHooks): LoadedPlugin => ({ name, hooks });
const host = (...plugins: LoadedPlugin[]) => new PluginHost(plugins, { timeoutMs: 50, logger: silentLogger });
const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as ClawError);

async function deliver(pluginHost: PluginHost, context: PluginContext, deltas: string[]) {
  const output = await pluginHost.createOutput(context);
  const delivered: string[] = [];
  for (const delta of deltas) delivered.push(await output.push(delta));
  delivered.push(await output.finish());
  return { incremental: output.incremental, delivered: delivered.filter((text) => text !== "") };
}

describe("preProcess", () => {
  it("runs in config order on one context, and adopts a returned copy", async () => {
    const context = newContext("a");
    await host(
      plugin("first", { preProcess: (given) => void (given.input += "b") }),
      plugin("second", { preProcess: (given) => ({ ...given, input: `${given.input}c`, metadata: { seen: true } }) }),
      plugin("third", { preProcess: async (given) => ((given.input += "d"), given) }),
    ).preProcess(context);
    expect(context.input).toBe("abcd");
    expect(context.metadata).toEqual({ seen: true });
  });

  it("passes a plugin's forbidden or bad_request refusal to the client as it is", async () => {
    const refusing = host(plugin("gate", { preProcess: (context) => context.reject("forbidden", "not here") }));
    expect(await failure(refusing.preProcess(newContext()))).toMatchObject({ code: "forbidden", message: "not here" });
    const thrown = host(plugin("gate", { preProcess: () => { throw new ClawError("bad_request", "say more"); } }));
    expect(await failure(thrown.preProcess(newContext()))).toMatchObject({ code: "bad_request", message: "say more" });
  });

  it("turns other codes, throws and bad results into plugin_error naming the plugin, without stack traces", async () => {
    const other = host(plugin("sneaky", { preProcess: () => { throw new ClawError("unauthorized", "log in"); } }));
    expect(await failure(other.preProcess(newContext()))).toMatchObject({ code: "plugin_error", message: "plugin sneaky: preProcess threw: log in" });
    const throwing = host(plugin("buggy", { preProcess: () => { throw new TypeError("x is undefined\n    at buggy.ts:3:7"); } }));
    const error = await failure(throwing.preProcess(newContext()));
    expect(error).toMatchObject({ code: "plugin_error", message: "plugin buggy: preProcess threw: x is undefined" });
    const invalid = host(plugin("lossy", { preProcess: (context) => void ((context as { input: unknown }).input = undefined) }));
    expect((await failure(invalid.preProcess(newContext())))?.message).toBe("plugin lossy: preProcess left input as undefined; expected a string");
    const wrongReturn = host(plugin("stringy", { preProcess: () => "text" as never }));
    expect((await failure(wrongReturn.preProcess(newContext())))?.message).toMatch(/plugin stringy: preProcess returned a string; expected the context/);
  });

  it("fails a hook that does not settle within the timeout", async () => {
    const hanging = host(plugin("sleepy", { preProcess: () => new Promise(() => {}) }));
    const started = performance.now();
    expect(await failure(hanging.preProcess(newContext()))).toMatchObject({ code: "plugin_error", message: "plugin sleepy: preProcess timed out after 50 ms" });
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe("output", () => {
  const upper = plugin("upper", { transformStream: () => ({ push: (text) => text.toUpperCase(), flush: () => "!" }) });
  const holdBack = plugin("hold", {
    transformStream: () => {
      let held = "";
      return { push: (text) => ((held += text), ""), flush: () => held };
    },
  });
  const rewrite = plugin("rewrite", { postProcess: (response) => response.replaceAll("secret", "public") });

  it("passes text through without output plugins", async () => {
    expect(await deliver(host(), newContext(), ["a", "b"])).toEqual({ incremental: true, delivered: ["a", "b"] });
  });

  it("streams through chained transforms when every output plugin has one; flushed text passes the later ones", async () => {
    expect(await deliver(host(upper), newContext(), ["ab", "c"])).toEqual({ incremental: true, delivered: ["AB", "C", "!"] });
    expect(await deliver(host(holdBack, upper), newContext(), ["ab", "c"])).toEqual({ incremental: true, delivered: ["ABC!"] });
  });

  it("buffers the whole answer when a plugin has only postProcess, running transforms over it in order", async () => {
    expect(await deliver(host(rewrite), newContext(), ["a sec", "ret b"])).toEqual({ incremental: false, delivered: ["a public b"] });
    expect(await deliver(host(upper, rewrite), newContext(), ["sec", "ret"])).toEqual({ incremental: false, delivered: ["SECRET!"] });
    expect(await deliver(host(rewrite, upper), newContext(), ["sec", "ret"])).toEqual({ incremental: false, delivered: ["PUBLIC!"] });
  });

  it("prefers postProcess in buffered mode when a plugin has both hooks", async () => {
    const both = plugin("both", { postProcess: (text) => `[${text}]`, transformStream: () => ({ push: (text) => text, flush: () => "" }) });
    expect(await deliver(host(both, rewrite), newContext(), ["x"])).toEqual({ incremental: false, delivered: ["[x]"] });
    expect(await deliver(host(both), newContext(), ["x"])).toEqual({ incremental: true, delivered: ["x"] });
  });

  it("fails with plugin_error when an output hook throws, hangs or returns something else than text", async () => {
    const throwing = plugin("thrower", { transformStream: () => ({ push: () => { throw new Error("boom"); }, flush: () => "" }) });
    expect(await failure(deliver(host(throwing), newContext(), ["x"]))).toMatchObject({ message: "plugin thrower: transformStream.push threw: boom" });
    const hanging = plugin("hanger", { postProcess: () => new Promise<string>(() => {}) });
    expect(await failure(deliver(host(hanging), newContext(), ["x"]))).toMatchObject({ message: "plugin hanger: postProcess timed out after 50 ms" });
    const numeric = plugin("numeric", { postProcess: () => 42 as never });
    expect(await failure(deliver(host(numeric), newContext(), ["x"]))).toMatchObject({ message: "plugin numeric: postProcess returned number; expected a string" });
    const shapeless = plugin("shapeless", { transformStream: () => ({}) as never });
    expect(await failure(deliver(host(shapeless), newContext(), ["x"]))).toMatchObject({ code: "plugin_error", message: expect.stringMatching(/^plugin shapeless: transformStream returned an object; expected/) });
  });
});

describe("onHook", () => {
  it("times every hook call, marks throws and timeouts as failed, and not a preProcess refusal", async () => {
    const timings: { plugin: string; hook: string; seconds: number; failed: boolean }[] = [];
    const timed = (...plugins: LoadedPlugin[]) => new PluginHost(plugins, { timeoutMs: 50, logger: silentLogger, onHook: (timing) => timings.push(timing) });
    await timed(plugin("upper", { preProcess: (context) => void (context.input = context.input.toUpperCase()), postProcess: (text) => text.toUpperCase() })).preProcess(newContext());
    await deliver(timed(plugin("upper", { postProcess: (text) => text.toUpperCase() })), newContext(), ["a", "b"]);
    await failure(timed(plugin("gate", { preProcess: (context) => context.reject("forbidden", "no") })).preProcess(newContext()));
    await failure(timed(plugin("buggy", { preProcess: () => { throw new Error("boom"); } })).preProcess(newContext()));
    await failure(timed(plugin("sleepy", { preProcess: () => new Promise(() => {}) })).preProcess(newContext()));
    expect(timings.map(({ plugin: name, hook, failed }) => [name, hook, failed])).toEqual([
      ["upper", "preProcess", false],
      ["upper", "postProcess", false],
      ["gate", "preProcess", false],
      ["buggy", "preProcess", true],
      ["sleepy", "preProcess", true],
    ]);
    expect(timings.every(({ seconds }) => seconds >= 0)).toBe(true);
    // The timed-out hook took at least its timeout.
    expect(timings[4]!.seconds).toBeGreaterThanOrEqual(0.04);
  });
});
