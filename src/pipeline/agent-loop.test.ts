// The agent loop with the echo engine: tool calls run, their results go back into the prompt, limits and refusals hold.
import { describe, expect, it } from "vitest";
import { agentSchema, toolsSchema } from "../config/schema.js";
import type { StreamPart, ToolCall } from "../core/types.js";
import { EchoEngine } from "../engine/echo/echo-engine.js";
import { silentLogger } from "../logging/logger.js";
import { openMemoryDatabase } from "../store/database.js";
import { SessionRepository } from "../store/session-repository.js";
import { ToolRegistry } from "../tools/tool-registry.js";
import type { NodeTool } from "../tools/tool-types.js";
import { Pipeline, type PipelineRequest } from "./pipeline.js";
import type { RequestObserver, ToolCallRecord } from "./request-observer.js";

const principal = { subject: "alice", roles: [], scopes: [], claims: {} };

function weatherTool(overrides: Partial<NodeTool> = {}): NodeTool & { calls: Record<string, unknown>[] } {
  const calls: Record<string, unknown>[] = [];
  return {
    name: "weather",
    description: "Today's weather in a city",
    parameters: { type: "object", properties: { city: { type: "string", enum: ["Beijing", "Shanghai"] }, days: { type: "integer", minimum: 1 } }, required: ["city", "days"] },
    source: "builtin",
    confirm: false,
    calls,
    async run(args) {
      calls.push(args);
      return `sunny-in-${String(args.city)}`;
    },
    ...overrides,
  };
}

function setup(tools: NodeTool[], config: Record<string, unknown> = {}) {
  const engine = new EchoEngine({ parallel: 2, maxQueue: 4, contextSize: 8192 });
  const records: ToolCallRecord[] = [];
  const observer: RequestObserver = { toolCalled: (_start, call) => records.push(call) };
  const pipeline = new Pipeline({
    agent: agentSchema.parse({ engine: "echo", max_tokens: 4000 }),
    engine,
    sessions: new SessionRepository(openMemoryDatabase()),
    logger: silentLogger,
    tools: new ToolRegistry([{ tools: () => tools }]),
    toolsConfig: toolsSchema.parse(config),
    observers: [observer],
  });
  return { pipeline, records };
}

async function run(pipeline: Pipeline, request: Partial<PipelineRequest>): Promise<StreamPart[]> {
  const parts: StreamPart[] = [];
  await pipeline.handle({ id: "r1", principal, gateway: "websocket", message: "hello", ...request }, { write: (part) => void parts.push(part) });
  return parts;
}

const text = (parts: StreamPart[]) => parts.map((part) => (part.type === "text-delta" ? part.text : "")).join("");

describe("agent loop (echo engine)", () => {
  it("runs a forced call and puts its result into the next prompt", async () => {
    const tool = weatherTool();
    const { pipeline, records } = setup([tool]);
    const parts = await run(pipeline, { message: 'weather please {"city": "Shanghai", "days": 2}', toolChoice: "required" });
    expect(tool.calls).toEqual([{ city: "Shanghai", days: 2 }]);
    const call = parts.find((part) => part.type === "tool-call") as { call: ToolCall };
    expect(call.call).toMatchObject({ name: "weather" });
    expect(parts.find((part) => part.type === "tool-result")).toMatchObject({ outcome: "ok", content: "sunny-in-Shanghai", name: "weather" });
    // The second generation echoes its prompt: the catalog, the call and the result are in it.
    expect(text(parts)).toContain("<tool_response>\nsunny-in-Shanghai\n</tool_response>");
    expect(text(parts)).toContain('"name":"weather"');
    const finish = parts[parts.length - 1];
    expect(finish).toMatchObject({ type: "finish", finishReason: "stop" });
    expect(records).toEqual([expect.objectContaining({ tool: "weather", outcome: "ok", source: "builtin", resultChars: 17, agent: "default" })]);
  });

  it("does not call with tool_choice none, and calls in auto only when the model (echo: the turn) names the tool", async () => {
    const tool = weatherTool();
    const { pipeline } = setup([tool]);
    await run(pipeline, { message: "weather in Beijing", toolChoice: "none" });
    await run(pipeline, { message: "just chatting" });
    expect(tool.calls).toEqual([]);
    await run(pipeline, { message: 'use weather {"city": "Beijing", "days": 1}' });
    expect(tool.calls).toEqual([{ city: "Beijing", days: 1 }]);
  });

  it("never runs a call whose arguments do not validate; the model gets the error", async () => {
    const tool = weatherTool();
    const { pipeline, records } = setup([tool]);
    const parts = await run(pipeline, { message: 'weather {"city": "Paris", "days": 0}', toolChoice: "required" });
    expect(tool.calls).toEqual([]);
    expect(parts.find((part) => part.type === "tool-result")).toMatchObject({ outcome: "invalid_arguments" });
    expect(records[0]?.outcome).toBe("invalid_arguments");
  });

  it("stops calling at tools.max_steps", async () => {
    // The echo engine calls whenever the last user turn names the tool and no result came after it: with a tool that
    // answers with a new user-looking turn it would loop; max_steps 1 means the only generation cannot call at all.
    const tool = weatherTool();
    const { pipeline } = setup([tool], { max_steps: 1 });
    const parts = await run(pipeline, { message: 'weather {"city": "Beijing", "days": 1}', toolChoice: "required" });
    expect(tool.calls).toEqual([]);
    expect(parts[parts.length - 1]).toMatchObject({ type: "finish", finishReason: "stop" });
  });

  it("answers a tool timeout and a throwing tool with an error result, and the request still finishes", async () => {
    const slow = weatherTool({ name: "slow", run: () => new Promise(() => {}) });
    const broken = weatherTool({ name: "broken", run: async () => { throw new Error("database down"); } });
    const { pipeline } = setup([slow, broken], { timeout: 0.05 });
    const first = await run(pipeline, { message: 'slow {"city": "Beijing", "days": 1}', toolChoice: { name: "slow" } });
    expect(first.find((part) => part.type === "tool-result")).toMatchObject({ outcome: "timeout" });
    const second = await run(pipeline, { message: 'broken {"city": "Beijing", "days": 1}', toolChoice: { name: "broken" } });
    expect(second.find((part) => part.type === "tool-result")).toMatchObject({ outcome: "error", content: "Error: database down" });
    expect(second[second.length - 1]).toMatchObject({ type: "finish" });
  });

  it("ends with finishReason tool_calls when the model calls a client tool", async () => {
    const { pipeline } = setup([weatherTool()]);
    const clientTool = { name: "lookup", description: "client side", parameters: { type: "object", properties: { q: { type: "string" } }, required: ["q"] } };
    const parts = await run(pipeline, { message: undefined, messages: [{ role: "user", content: 'lookup {"q": "x"}' }], clientTools: [clientTool], toolChoice: { name: "lookup" } });
    const finish = parts[parts.length - 1];
    expect(finish).toMatchObject({ type: "finish", finishReason: "tool_calls", toolCalls: [{ name: "lookup", arguments: '{"q":"x"}' }] });
    expect(parts.some((part) => part.type === "tool-result")).toBe(false);
  });

  it("refuses tool_choice naming a tool that is not offered, and a confirm tool without an approval channel is denied", async () => {
    const guarded = weatherTool({ name: "send_mail", confirm: true });
    const { pipeline } = setup([guarded]);
    const refused = await run(pipeline, { toolChoice: { name: "nope" } });
    expect(refused[0]).toMatchObject({ type: "error", error: { code: "bad_request" } });
    const denied = await run(pipeline, { message: 'send_mail {"city": "Beijing", "days": 1}', toolChoice: "required" });
    expect(denied.find((part) => part.type === "tool-result")).toMatchObject({ outcome: "denied" });
    expect(guarded.calls).toEqual([]);
    const approved = await run(pipeline, { message: 'send_mail {"city": "Beijing", "days": 1}', toolChoice: "required", approve: async () => true });
    expect(approved.find((part) => part.type === "tool-approval")).toBeDefined();
    expect(approved.find((part) => part.type === "tool-result")).toMatchObject({ outcome: "ok" });
    expect(guarded.calls).toHaveLength(1);
  });
});
