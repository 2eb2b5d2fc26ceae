// LangChain.js against a Clawbot node: ChatOpenAI with bindTools runs an agent loop (call → tool → answer), invoked and streamed.
import { ChatOpenAI } from "@langchain/openai";
import { AIMessage, AIMessageChunk, type BaseMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod/v4";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

const calls: string[] = [];
const weather = tool(
  async ({ city }: { city: string }) => {
    calls.push(city);
    return `Sunny and 21 degrees in ${city}`;
  },
  { name: "weather", description: "The weather in a city", schema: z.object({ city: z.string() }) },
);

/** A small agent loop as LangChain users write one: the model calls tools until it answers, at most `limit` rounds. */
async function runAgent(model: ChatOpenAI, question: string, streaming: boolean, limit = 3): Promise<{ answer: AIMessage; rounds: number }> {
  const messages: BaseMessage[] = [new HumanMessage(question)];
  for (let round = 1; round <= limit; round += 1) {
    // The first round must call (tool_choice required); later rounds decide (auto).
    const bound = model.bindTools([weather], { tool_choice: round === 1 ? "required" : "auto" });
    let reply: AIMessage;
    if (streaming) {
      let merged: AIMessageChunk | undefined;
      for await (const chunk of await bound.stream(messages)) merged = merged ? merged.concat(chunk) : chunk;
      reply = merged as AIMessage;
    } else {
      reply = await bound.invoke(messages);
    }
    messages.push(reply);
    if (!reply.tool_calls || reply.tool_calls.length === 0) return { answer: reply, rounds: round };
    for (const call of reply.tool_calls) {
      const result = await weather.invoke(call);
      messages.push(result instanceof ToolMessage ? result : new ToolMessage({ content: String(result), tool_call_id: call.id as string }));
    }
  }
  throw new Error(`no answer after ${limit} rounds`);
}

describe("LangChain.js ChatOpenAI with tools (echo engine)", () => {
  let node: TestNode;
  let model: ChatOpenAI;

  beforeAll(async () => {
    node = await startTestNode({ agent: { engine: "echo" } });
    model = new ChatOpenAI({ model: "echo", apiKey: await node.token(), configuration: { baseURL: `${node.httpUrl}/v1` }, temperature: 0, maxRetries: 0 });
  });
  afterAll(async () => node?.close());

  it.each([false, true])("runs the agent loop (streaming %s): the tool is called with parsed arguments and the answer holds its result", async (streaming) => {
    calls.length = 0;
    const { answer, rounds } = await runAgent(model, 'What is the weather? {"city": "Paris"}', streaming);
    expect(calls).toEqual(["Paris"]);
    expect(rounds).toBe(2);
    // The echo engine echoes its prompt: the tool's result came back to the model.
    expect(String(answer.content)).toContain("Sunny and 21 degrees in Paris");
  });
});
