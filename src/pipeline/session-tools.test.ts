// A session keeps the agent loop's tool steps: the next turn's prompt holds the earlier call and its result, and trimming never orphans a result.
import { describe, expect, it } from "vitest";
import { agentSchema, configSchema, toolsSchema } from "../config/schema.js";
import type { ChatMessage, StreamPart } from "../core/types.js";
import { EchoEngine } from "../engine/echo/echo-engine.js";
import { silentLogger } from "../logging/logger.js";
import { openMemoryDatabase } from "../store/database.js";
import { SessionRepository } from "../store/session-repository.js";
import { ToolRegistry } from "../tools/tool-registry.js";
import type { NodeTool } from "../tools/tool-types.js";
import { Pipeline, type PipelineRequest } from "./pipeline.js";
import { buildPrompt, messageTokens, promptBudget, tokenCountKey } from "./prompt-builder.js";

const principal = { subject: "alice", roles: [], scopes: [], claims: {} };

const weather: NodeTool = {
  name: "weather",
  description: "Today's weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  source: "builtin",
  confirm: false,
  async run(args) {
    return `sunny-in-${String(args.city)}`;
  },
};

function setup() {
  const sessions = new SessionRepository(openMemoryDatabase());
  const pipeline = new Pipeline({
    agent: agentSchema.parse({ engine: "echo", max_tokens: 4000 }),
    engine: new EchoEngine({ parallel: 2, maxQueue: 4, contextSize: 8192 }),
    sessions,
    logger: silentLogger,
    tools: new ToolRegistry([{ tools: () => [weather] }]),
    toolsConfig: toolsSchema.parse({}),
  });
  return { pipeline, sessions };
}

async function run(pipeline: Pipeline, request: Partial<PipelineRequest>): Promise<StreamPart[]> {
  const parts: StreamPart[] = [];
  await pipeline.handle({ id: "r1", principal, gateway: "websocket", ...request }, { write: (part) => void parts.push(part) });
  return parts;
}

const text = (parts: StreamPart[]) => parts.map((part) => (part.type === "text-delta" ? part.text : "")).join("");

describe("a session with tool steps", () => {
  it("stores the first turn's call and result, and the second turn's prompt holds them in order", async () => {
    const { pipeline, sessions } = setup();
    // The first answer is cut to a few words, so the call and result in the second prompt can only come from the stored steps.
    const first = await run(pipeline, { session: "trip", message: 'weather for the trip {"city": "Shanghai"}', toolChoice: "required", params: { maxTokens: 2 } });
    expect(first.at(-1)).toMatchObject({ type: "finish" });
    const answer = text(first);
    expect(answer).not.toContain("sunny-in-Shanghai");
    const stored = sessions.history("alice", "trip");
    const call = (first.find((part) => part.type === "tool-call") as { call: { id: string } }).call;
    expect(stored).toStrictEqual([
      { role: "user", content: 'weather for the trip {"city": "Shanghai"}' },
      { role: "assistant", content: "", toolCalls: [{ id: call.id, name: "weather", arguments: '{"city":"Shanghai"}' }] },
      { role: "tool", content: "sunny-in-Shanghai", toolCallId: call.id, name: "weather" },
      { role: "assistant", content: answer },
    ]);

    // The echo engine answers with its prompt: the stored history as the model saw it, then the new question.
    const second = text(await run(pipeline, { session: "trip", message: "and what should I pack?", toolChoice: "none" }));
    const question = second.indexOf("weather for the trip");
    const calledAt = second.indexOf('<tool_call>\n{"name": "weather", "arguments": {"city":"Shanghai"}}\n</tool_call>');
    const resultAt = second.indexOf("<tool_response>\nsunny-in-Shanghai\n</tool_response>");
    const newQuestion = second.indexOf("and what should I pack?");
    expect(question).toBeGreaterThanOrEqual(0);
    expect(calledAt).toBeGreaterThan(question);
    expect(resultAt).toBeGreaterThan(calledAt);
    expect(second.indexOf(answer, resultAt)).toBeGreaterThan(resultAt);
    expect(newQuestion).toBeGreaterThan(resultAt);
    expect(sessions.history("alice", "trip")).toHaveLength(6);
  });
});

describe("buildPrompt with tool steps in the history", () => {
  const agent = configSchema.parse({ agent: { engine: "echo", system_prompt: "You are a helpful assistant." } }).agent;

  /** Exchanges of a question, an assistant call, its result and the answer: 4 messages, so block boundaries (every 8 positions) fall anywhere once shifted. */
  function history(exchanges: number): ChatMessage[] {
    return Array.from({ length: exchanges }, (_, turn): ChatMessage[] => [
      { role: "user", content: `question ${turn} with a few words` },
      { role: "assistant", content: "", toolCalls: [{ id: `call_${turn}`, name: "weather", arguments: `{"turn": ${turn}}` }] },
      { role: "tool", content: `result ${turn} `.repeat(1 + (turn % 3)), toolCallId: `call_${turn}`, name: "weather" },
      { role: "assistant", content: `answer ${turn} `.repeat(1 + (turn % 4)) },
    ]).flat();
  }

  it("starts the kept history at a question, whatever stored position the blocks fall on", () => {
    const engine = new EchoEngine({ contextSize: 512, parallel: 1, maxQueue: 1 });
    const earlier = history(60);
    const tokenCounts = new Map(earlier.map((message) => [tokenCountKey(message), messageTokens(engine, message)]));
    const budget = promptBudget(512, 64);
    for (let firstPosition = 0; firstPosition < 8; firstPosition += 1) {
      const messages = buildPrompt({ agent, engine, messages: earlier, turn: "new question", whole: false, maxTokens: 64, tokenCounts, firstPosition });
      const kept = messages.slice(1, -1);
      expect(kept.length).toBeGreaterThan(0);
      expect(kept).toEqual(earlier.slice(earlier.length - kept.length));
      expect(kept[0]?.role).toBe("user");
      expect(engine.countPromptTokens(messages)).toBeLessThanOrEqual(budget);
    }
  });

  it("never starts at a tool step even when the history given begins with one (an answer may start it, as before tools)", () => {
    const engine = new EchoEngine({ contextSize: 4096, parallel: 1, maxQueue: 1 });
    for (const skipped of [1, 2]) {
      // From the call (1) or the result (2) of the first exchange: both go, its answer stays.
      const earlier = history(3).slice(skipped);
      const messages = buildPrompt({ agent, engine, messages: earlier, turn: "next", whole: false, maxTokens: 64 });
      expect(messages.slice(1, -1)).toEqual(history(3).slice(3));
      expect(messages[1]).toEqual({ role: "assistant", content: "answer 0 " });
    }
  });

  it("counts tool steps apart: calls with the same (empty) text are different messages", () => {
    const [, callA] = history(1);
    const [, callB] = history(2).slice(4);
    expect(tokenCountKey(callA as ChatMessage)).not.toBe(tokenCountKey(callB as ChatMessage));
    expect(tokenCountKey({ role: "user", content: "x" })).not.toBe(tokenCountKey({ role: "assistant", content: "x" }));
  });
});
