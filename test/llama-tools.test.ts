// Tool calls with the llama engine and the real test model: grammar-filled calls validate, free calls are read, the pipeline runs them.
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentSchema, toolsSchema } from "../src/config/schema.js";
import { ClawError } from "../src/core/errors.js";
import type { StreamPart, ToolCall, ToolDefinition } from "../src/core/types.js";
import type { EnginePart, EngineTools, LanguageModel } from "../src/engine/language-model.js";
import { createLlamaEngine } from "../src/engine/llama/llama-engine.js";
import { silentLogger } from "../src/logging/logger.js";
import { Pipeline } from "../src/pipeline/pipeline.js";
import { openMemoryDatabase } from "../src/store/database.js";
import { SessionRepository } from "../src/store/session-repository.js";
import { ToolRegistry } from "../src/tools/tool-registry.js";
import type { NodeTool } from "../src/tools/tool-types.js";
import { testModelPath } from "./helpers/test-model.js";

/**
 * An enum string and an integer. No minimum/maximum: node-llama-cpp's grammar cannot hold a number to bounds, so the
 * engine refuses them (tested below); its integer rule allows at most 16 digits, so a call always ends.
 */
const setAlarm: ToolDefinition = {
  name: "set_alarm",
  description: "Sets an alarm in a room of the hospital, ringing after the given minutes.",
  parameters: {
    type: "object",
    // A bounded integer: the grammar lists the range's values, so the bounds hold too.
    properties: { room: { type: "string", enum: ["ward-1", "ward-2", "icu"] }, minutes: { type: "integer", minimum: 1, maximum: 120 } },
    required: ["room", "minutes"],
  },
};

const pageNurse: ToolDefinition = {
  name: "page_nurse",
  description: "Pages a nurse, urgently or not.",
  parameters: {
    type: "object",
    properties: { nurse: { type: "string", enum: ["ann", "bob"] }, urgent: { type: "boolean" }, note: { type: "string", maxLength: 20 } },
    required: ["nurse", "urgent", "note"],
    additionalProperties: false,
  },
};

const ajv = new Ajv({ strict: false });
const validators = new Map([setAlarm, pageNurse].map((tool) => [tool.name, ajv.compile(tool.parameters)]));
const messages = [{ role: "user" as const, content: "Once upon a time" }];
const principal = { subject: "alice", roles: [], scopes: [], claims: {} };

async function collect(engine: LanguageModel, tools: EngineTools, seed: number, maxTokens = 100): Promise<EnginePart[]> {
  const parts: EnginePart[] = [];
  for await (const part of engine.stream({ messages, params: { maxTokens, temperature: 0.8, seed }, tools })) parts.push(part);
  return parts;
}

const callsOf = (parts: readonly { type: string }[]) => parts.filter((part): part is { type: "tool-call"; call: ToolCall } => part.type === "tool-call").map((part) => part.call);
const finishOf = (parts: readonly EnginePart[]) => parts[parts.length - 1] as Extract<EnginePart, { type: "finish" }>;

/** The arguments parse as a JSON object and validate against the named tool's schema (ajv's errors otherwise). */
function argumentProblems(call: ToolCall): unknown {
  const validate = validators.get(call.name);
  if (!validate) return `unknown tool "${call.name}"`;
  const value: unknown = JSON.parse(call.arguments);
  return validate(value) ? null : { arguments: call.arguments, errors: validate.errors };
}

describe("llama engine tool calls (test model)", () => {
  let engine: LanguageModel;

  beforeAll(async () => {
    engine = await createLlamaEngine({ modelPath: await testModelPath(), parallel: 1, threads: 1, maxQueue: 4, gpu: false, logger: silentLogger, contextSize: 2048 });
  });
  afterAll(async () => engine?.close());

  it("a named, constrained call: exactly one call whose arguments validate, finish tool_calls, over 20 seeds", async () => {
    const rooms = new Set<unknown>();
    for (let seed = 1; seed <= 20; seed++) {
      const parts = await collect(engine, { definitions: [setAlarm, pageNurse], choice: { name: "set_alarm" }, constrained: true }, seed);
      const calls = callsOf(parts);
      expect(calls, `seed ${seed}`).toHaveLength(1);
      expect(calls[0]?.name).toBe("set_alarm");
      expect(calls[0]?.id).toMatch(/^call_/);
      expect(argumentProblems(calls[0] as ToolCall), `seed ${seed}`).toBeNull();
      // A forced call is nothing but the call: no text before it.
      expect(parts.filter((part) => part.type === "text-delta")).toEqual([]);
      const finish = finishOf(parts);
      expect(finish).toMatchObject({ type: "finish", finishReason: "tool_calls", text: "" });
      expect(finish.usage.completionTokens).toBeGreaterThan(0);
      rooms.add((JSON.parse(calls[0]?.arguments ?? "{}") as { room?: unknown }).room);
    }
    // The sampler chose (temperature 0.8): the grammar allowed every room, not one fixed answer.
    expect(rooms.size).toBeGreaterThan(1);
  });

  it("required with two tools: the name is one of them and the arguments validate against that tool's schema", async () => {
    const names = new Set<string>();
    for (let seed = 1; seed <= 12; seed++) {
      const parts = await collect(engine, { definitions: [setAlarm, pageNurse], choice: "required", constrained: true }, seed);
      const calls = callsOf(parts);
      expect(calls, `seed ${seed}`).toHaveLength(1);
      const call = calls[0] as ToolCall;
      expect(["set_alarm", "page_nurse"]).toContain(call.name);
      expect(argumentProblems(call), `seed ${seed}`).toBeNull();
      expect(finishOf(parts).finishReason).toBe("tool_calls");
      names.add(call.name);
    }
    // Seeded sampling picked each tool at least once: the grammar offers both, not only the first listed.
    expect([...names].sort()).toEqual(["page_nurse", "set_alarm"]);
  });

  it("auto: the model (which never writes <tool_call>) streams its text and calls nothing; the catalog is in the prompt", async () => {
    for (let seed = 1; seed <= 3; seed++) {
      const parts = await collect(engine, { definitions: [setAlarm, pageNurse], choice: "auto", constrained: true }, seed, 40);
      const deltas = parts.filter((part) => part.type === "text-delta");
      expect(deltas.length).toBeGreaterThan(1);
      expect(callsOf(parts)).toEqual([]);
      const finish = finishOf(parts);
      expect(["stop", "length"]).toContain(finish.finishReason);
      expect(finish.text).toBe(deltas.map((part) => part.text).join(""));
      expect(finish.text).not.toContain("<tool_call>");
    }
    const bare = engine.countPromptTokens(messages);
    const withCatalog = engine.countPromptTokens(messages, [setAlarm, pageNurse]);
    expect(withCatalog).toBeGreaterThan(bare + 100);
    // The usage counts the rendered catalog too.
    const parts = await collect(engine, { definitions: [setAlarm, pageNurse], choice: "auto", constrained: true }, 1, 8);
    expect(finishOf(parts).usage.promptTokens).toBe(withCatalog);
  });

  it("none: catalogued, never called, even where a call would be forced otherwise", async () => {
    const parts = await collect(engine, { definitions: [setAlarm], choice: "none", constrained: true }, 4, 20);
    expect(callsOf(parts)).toEqual([]);
    expect(finishOf(parts).usage.promptTokens).toBe(engine.countPromptTokens(messages, [setAlarm]));
  });

  it("required, not constrained: the model writes freely until </tool_call>; story text does not parse, so the call has no name", async () => {
    // What happens with this model: it tells a story after the call marker, never writes </tool_call>, and is cut at
    // max(max_tokens, 256) tokens, the limit of a free call; the unreadable call is still yielded,
    // with name "" and the text as its arguments, so the pipeline answers it with an error.
    for (const seed of [1, 2]) {
      const parts = await collect(engine, { definitions: [setAlarm], choice: "required", constrained: false }, seed, 50);
      const calls = callsOf(parts);
      expect(calls).toHaveLength(1);
      expect(calls[0]?.name).toBe("");
      expect(() => JSON.parse(calls[0]?.arguments ?? "")).toThrow();
      const finish = finishOf(parts);
      expect(finish.finishReason).toBe("tool_calls");
      expect(finish.usage.completionTokens).toBe(256);
      expect(parts.filter((part) => part.type === "text-delta")).toEqual([]);
    }
  });

  it("refuses a tool schema the grammar cannot enforce with bad_request naming tools, before queueing", async () => {
    // An already-aborted signal makes the queue refuse with `cancelled`: bad_request shows the check came first.
    const refusal = async (parameters: Record<string, unknown>, constrained = true) => {
      const tool = { name: "odd", description: "x", parameters };
      const stream = engine.stream({ messages, params: { maxTokens: 8, temperature: 0 }, tools: { definitions: [tool], choice: "required", constrained } }, { signal: AbortSignal.abort() });
      return stream.next().then(
        () => undefined,
        (error: unknown) => error,
      );
    };
    const error = await refusal({ type: "object", properties: { x: { not: {} } } });
    expect(error).toBeInstanceOf(ClawError);
    expect(error).toMatchObject({ code: "bad_request" });
    expect((error as ClawError).param).toMatch(/^tools/);
    // A length too large to build into a grammar is refused, naming the tool and the property.
    const long = await refusal({ type: "object", properties: { note: { type: "string", maxLength: 5000 } }, required: ["note"] });
    expect(long).toMatchObject({ code: "bad_request" });
    expect((long as ClawError).param).toMatch(/^tools\.odd\.parameters.*note/);
    // Bounds the grammar cannot list (a real-valued range) are left to the validation after generation: accepted here.
    expect(await refusal({ type: "object", properties: { dose: { type: "number", minimum: 0.5, maximum: 2.5 } }, required: ["dose"] })).toMatchObject({ code: "cancelled" });
    // Unconstrained, the same schema is not the grammar's business: the request reaches the queue (here: cancelled).
    expect(await refusal({ type: "object", properties: { x: { not: {} } } }, false)).toMatchObject({ code: "cancelled" });
  });
});

describe("the agent loop with the llama engine (test model)", () => {
  let engine: LanguageModel;

  beforeAll(async () => {
    engine = await createLlamaEngine({ modelPath: await testModelPath(), parallel: 1, threads: 1, maxQueue: 4, gpu: false, logger: silentLogger, contextSize: 2048 });
  });
  afterAll(async () => engine?.close());

  it("a forced call runs the tool with validated arguments, its result goes back, and the answer follows", async () => {
    const calls: Record<string, unknown>[] = [];
    const tool: NodeTool = {
      ...setAlarm,
      source: "builtin",
      confirm: false,
      async run(args) {
        calls.push(args);
        return `alarm set in ${String(args.room)}`;
      },
    };
    const pipeline = new Pipeline({
      agent: agentSchema.parse({ engine: "llama", max_tokens: 32, temperature: 0.8 }),
      engine,
      sessions: new SessionRepository(openMemoryDatabase()),
      logger: silentLogger,
      tools: new ToolRegistry([{ tools: () => [tool] }]),
      toolsConfig: toolsSchema.parse({}),
    });
    for (const id of ["r1", "r2", "r3"]) {
      const parts: StreamPart[] = [];
      await pipeline.handle({ id, principal, gateway: "websocket", message: "Once upon a time", toolChoice: { name: "set_alarm" } }, { write: (part) => void parts.push(part) });
      const types = parts.map((part) => part.type);
      const call = callsOf(parts)[0] as ToolCall;
      expect(call.name).toBe("set_alarm");
      expect(argumentProblems(call)).toBeNull();
      const result = parts.find((part) => part.type === "tool-result");
      expect(result).toMatchObject({ outcome: "ok", name: "set_alarm", callId: call.id, content: `alarm set in ${String((JSON.parse(call.arguments) as { room: string }).room)}` });
      // The tool got the arguments the model wrote (parsed), and ran once for this request.
      expect(calls[calls.length - 1]).toEqual(JSON.parse(call.arguments));
      expect(types.indexOf("tool-call")).toBeLessThan(types.indexOf("tool-result"));
      // The answer streams after the result: the second step is `auto`, and this model never calls.
      const deltas = types.flatMap((type, index) => (type === "text-delta" ? [index] : []));
      expect(deltas.length).toBeGreaterThan(0);
      expect(Math.min(...deltas)).toBeGreaterThan(types.indexOf("tool-result"));
      const finish = parts[parts.length - 1];
      expect(finish?.type).toBe("finish");
      expect(["stop", "length"]).toContain((finish as { finishReason: string }).finishReason);
    }
    expect(calls).toHaveLength(3);
  });
});
