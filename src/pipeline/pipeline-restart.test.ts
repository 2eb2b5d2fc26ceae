// A generation that starts again (a cluster's worker lost): the client is told, only the new text counts, is stored and post-processed.
import { describe, expect, it } from "vitest";
import { agentSchema, toolsSchema } from "../config/schema.js";
import type { ChatMessage, StreamPart } from "../core/types.js";
import type { EngineInfo, EnginePart, EngineRequest, LanguageModel } from "../engine/language-model.js";
import { silentLogger } from "../logging/logger.js";
import type { LoadedPlugin } from "../plugins/plugin-hooks.js";
import { PluginHost } from "../plugins/plugin-host.js";
import { openMemoryDatabase } from "../store/database.js";
import { SessionRepository } from "../store/session-repository.js";
import { ToolRegistry } from "../tools/tool-registry.js";
import type { NodeTool } from "../tools/tool-types.js";
import { Pipeline } from "./pipeline.js";

const principal = { subject: "alice", roles: [], scopes: [], claims: {} };

/** An engine that plays one script of parts per generation, in order: what a remote engine yields across a lost worker. */
class ScriptedEngine implements LanguageModel {
  readonly info: EngineInfo = { engine: "echo", model: "scripted", contextSize: 4096, parallel: 1, maxQueue: 1, threads: 0, chatTemplate: false, backend: "none" };
  readonly requests: EngineRequest[] = [];

  constructor(private readonly generations: EnginePart[][]) {}

  load() {
    return { active: 0, queued: 0 };
  }

  countPromptTokens(messages: ChatMessage[]): number {
    return messages.reduce((sum, message) => sum + (typeof message.content === "string" ? message.content.split(" ").length : 1), 1);
  }

  async *stream(request: EngineRequest): AsyncGenerator<EnginePart> {
    this.requests.push(request);
    const script = this.generations[this.requests.length - 1];
    if (!script) throw new Error(`no script for generation ${this.requests.length}`);
    for (const part of script) yield part;
  }

  async close(): Promise<void> {}
}

const text = (value: string): EnginePart => ({ type: "text-delta", text: value });
const restart = (attempt: number): EnginePart => ({ type: "restart", reason: "worker_lost", attempt });
const finish = (value: string, finishReason: "stop" | "tool_calls" = "stop"): EnginePart => ({
  type: "finish",
  text: value,
  finishReason,
  usage: { promptTokens: 5, completionTokens: 3 },
  timings: { queueMs: 0, ttftMs: 1, totalMs: 2 },
});

const weather: NodeTool = {
  name: "weather",
  description: "Today's weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  source: "builtin",
  confirm: false,
  run: async (args) => `sunny in ${String(args.city)}`,
};

/** A plugin that records what postProcess saw and marks the answer (so the host buffers it). */
function postProcessRecorder(seen: string[]): LoadedPlugin {
  return {
    name: "recorder",
    hooks: {
      postProcess: (response: string) => {
        seen.push(response);
        return `${response} [checked]`;
      },
    },
  };
}

/** A streaming plugin that upper-cases each delta. */
const upperCase: LoadedPlugin = {
  name: "upper",
  hooks: { transformStream: () => ({ push: (delta: string) => delta.toUpperCase(), flush: () => "" }) },
};

function setup(generations: EnginePart[][], options: { plugins?: LoadedPlugin[]; tools?: NodeTool[] } = {}) {
  const engine = new ScriptedEngine(generations);
  const sessions = new SessionRepository(openMemoryDatabase());
  const pipeline = new Pipeline({
    agent: agentSchema.parse({ engine: "echo" }),
    engine,
    sessions,
    logger: silentLogger,
    plugins: new PluginHost(options.plugins ?? [], { timeoutMs: 2000, logger: silentLogger }),
    tools: new ToolRegistry([{ tools: () => options.tools ?? [] }]),
    toolsConfig: toolsSchema.parse({}),
  });
  const ask = async (message: string): Promise<StreamPart[]> => {
    const parts: StreamPart[] = [];
    await pipeline.handle({ id: "r1", principal, gateway: "websocket", session: "s1", message }, { write: (part) => void parts.push(part) });
    return parts;
  };
  return { engine, sessions, ask };
}

const deltas = (parts: StreamPart[]) => parts.filter((part) => part.type === "text-delta").map((part) => part.text);
const finishOf = (parts: StreamPart[]) => parts.find((part): part is Extract<StreamPart, { type: "finish" }> => part.type === "finish");

describe("pipeline: a generation restarted on another worker", () => {
  it("writes the void text, the restart, the new text, and a finish holding only the new text; stores only that", async () => {
    const { sessions, ask } = setup([[text("half an "), text("answ"), restart(2), text("The whole "), text("answer."), finish("The whole answer.")]]);
    const parts = await ask("hello");
    expect(parts.map((part) => part.type)).toEqual(["text-delta", "text-delta", "restart", "text-delta", "text-delta", "finish"]);
    expect(parts[2]).toEqual({ type: "restart", reason: "worker_lost", attempt: 2 });
    expect(finishOf(parts)?.text).toBe("The whole answer.");
    expect(sessions.history("alice", "s1")).toEqual([
      { role: "user", content: "hello" },
      { role: "assistant", content: "The whole answer." },
    ]);
  });

  it("survives two restarts in one answer", async () => {
    const { ask } = setup([[text("one"), restart(2), text("two"), restart(3), text("three"), finish("three")]]);
    const parts = await ask("hello");
    expect(parts.filter((part) => part.type === "restart").map((part) => (part as { attempt: number }).attempt)).toEqual([2, 3]);
    expect(finishOf(parts)?.text).toBe("three");
  });

  it("gives a buffering plugin's postProcess only the new text (nothing void reaches the client)", async () => {
    const seen: string[] = [];
    const { sessions, ask } = setup([[text("void text"), restart(2), text("new text"), finish("new text")]], { plugins: [postProcessRecorder(seen)] });
    const parts = await ask("hello");
    expect(seen).toEqual(["new text"]);
    expect(deltas(parts)).toEqual(["new text [checked]"]);
    expect(finishOf(parts)?.text).toBe("new text [checked]");
    expect(sessions.history("alice", "s1").at(-1)).toEqual({ role: "assistant", content: "new text [checked]" });
  });

  it("starts a streaming plugin's transform afresh: the finish is the new text, transformed", async () => {
    const { ask } = setup([[text("void "), restart(2), text("new "), text("text"), finish("new text")]], { plugins: [upperCase] });
    const parts = await ask("hello");
    expect(deltas(parts)).toEqual(["VOID ", "NEW ", "TEXT"]);
    expect(finishOf(parts)?.text).toBe("NEW TEXT");
  });

  describe("in the agent loop: a restart in step 2 keeps step 1", () => {
    const call = { id: "call_1", name: "weather", arguments: '{"city":"Beijing"}' };
    const script = (): EnginePart[][] => [
      [text("Let me look. "), { type: "tool-call", call }, finish("Let me look. ", "tool_calls")],
      [text("It is rai"), restart(2), text("It is sunny."), finish("It is sunny.")],
    ];

    it("keeps the tool step and the text before it; drops only step 2's void text", async () => {
      const { engine, sessions, ask } = setup(script(), { tools: [weather] });
      const parts = await ask("weather in Beijing?");
      expect(parts.map((part) => part.type)).toEqual(["text-delta", "tool-call", "tool-result", "text-delta", "restart", "text-delta", "finish"]);
      expect(finishOf(parts)?.text).toBe("Let me look. It is sunny.");
      // The tool ran once: the restart repeats the generation, never the step before it.
      expect(parts.filter((part) => part.type === "tool-result")).toHaveLength(1);
      expect(engine.requests).toHaveLength(2);
      const history = sessions.history("alice", "s1");
      expect(history.at(-1)).toEqual({ role: "assistant", content: "Let me look. It is sunny." });
      expect(history.some((message) => message.role === "tool" && message.content === "sunny in Beijing")).toBe(true);
    });

    it("with a buffering plugin, its postProcess sees step 1's text and step 2's new text", async () => {
      const seen: string[] = [];
      const { ask } = setup(script(), { tools: [weather], plugins: [postProcessRecorder(seen)] });
      const parts = await ask("weather in Beijing?");
      expect(seen).toEqual(["Let me look. It is sunny."]);
      expect(finishOf(parts)?.text).toBe("Let me look. It is sunny. [checked]");
    });
  });
});
