// Function calling through /v1/chat/completions with the official `openai` client: its tool-calling loop, streaming, runTools, the real model's constrained calls, and refused inputs.
import path from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import type { RunnableToolFunctionWithParse } from "openai/lib/RunnableFunction";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

type Body = Record<string, unknown>;

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "plugins");

const weatherParameters = { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false };
const weatherTool: OpenAI.ChatCompletionTool = { type: "function", function: { name: "weather", description: "The weather in a city", parameters: weatherParameters } };
const clockTool: OpenAI.ChatCompletionTool = { type: "function", function: { name: "clock", description: "The time now" } };

/** The client's own function: what the test runs when the model calls `weather`. */
const weather = ({ city }: { city: string }) => `Sunny and 21 degrees in ${city}`;

describe("function calling with the official openai client (echo engine)", () => {
  let node: TestNode;
  let openai: OpenAI;

  beforeAll(async () => {
    node = await startTestNode({ agent: { engine: "echo" } });
    openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token(), maxRetries: 0 });
  });
  afterAll(async () => node?.close());

  it("runs the client's tool-calling loop: tool_choice required → tool_calls → a tool message → the answer holds the result", async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: "user", content: 'What is the weather? {"city": "Paris"}' }];
    const first = await openai.chat.completions.create({ model: "echo", messages, tools: [clockTool, weatherTool], tool_choice: "required", parallel_tool_calls: false });
    const choice = first.choices[0];
    expect(choice?.finish_reason).toBe("tool_calls");
    expect(choice?.message.content).toBeNull();
    expect(choice?.message.tool_calls).toHaveLength(1);
    const call = choice?.message.tool_calls?.[0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(call.type).toBe("function");
    expect(call.id).toMatch(/^call_/);
    // The echo engine calls the tool the user turn names, with the JSON object it holds.
    expect(call.function.name).toBe("weather");
    const args = JSON.parse(call.function.arguments) as { city: string };
    expect(args).toEqual({ city: "Paris" });
    expect(first.usage?.total_tokens).toBeGreaterThan(0);

    // The message goes back as the client got it (content null, tool_calls), then the tool's result.
    messages.push(choice?.message as OpenAI.ChatCompletionMessageParam, { role: "tool", tool_call_id: call.id, content: weather(args) });
    for (const toolChoice of ["auto", "none"] as const) {
      const second = await openai.chat.completions.create({ model: "echo", messages, tools: [clockTool, weatherTool], tool_choice: toolChoice });
      expect(second.choices[0]?.finish_reason, toolChoice).toBe("stop");
      expect(second.choices[0]?.message.tool_calls, toolChoice).toBeUndefined();
      expect(second.choices[0]?.message.content, toolChoice).toContain("Sunny and 21 degrees in Paris");
    }
  });

  it("calls the function tool_choice names, with arguments its schema accepts", async () => {
    const completion = await openai.chat.completions.create({
      model: "echo",
      messages: [{ role: "user", content: "Anything." }],
      tools: [clockTool, weatherTool],
      tool_choice: { type: "function", function: { name: "weather" } },
    });
    const call = completion.choices[0]?.message.tool_calls?.[0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(completion.choices[0]?.finish_reason).toBe("tool_calls");
    expect(call.function.name).toBe("weather");
    expect(z.strictObject({ city: z.string() }).safeParse(JSON.parse(call.function.arguments)).success).toBe(true);
  });

  it("answers in text under tool_choice auto when the model calls nothing, and under none", async () => {
    for (const toolChoice of ["auto", "none"] as const) {
      const completion = await openai.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "Hello there" }], tools: [weatherTool], tool_choice: toolChoice });
      expect(completion.choices[0]?.finish_reason).toBe("stop");
      expect(completion.choices[0]?.message.tool_calls).toBeUndefined();
      expect(completion.choices[0]?.message.content).toContain("Hello there");
    }
  });

  it("streams a call as tool_calls deltas (id and name first, then the arguments) before the chunk with finish_reason tool_calls", async () => {
    const stream = await openai.chat.completions.create({
      model: "echo",
      messages: [{ role: "user", content: 'weather for {"city": "Lima"}' }],
      tools: [weatherTool],
      tool_choice: "required",
      stream: true,
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const deltas = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
    expect(deltas[0]).toMatchObject({ index: 0, type: "function", function: { name: "weather", arguments: "" } });
    expect(deltas[0]?.id).toMatch(/^call_/);
    expect(JSON.parse(deltas.map((delta) => delta.function?.arguments ?? "").join(""))).toEqual({ city: "Lima" });
    const last = chunks.at(-1);
    expect(last?.choices[0]?.finish_reason).toBe("tool_calls");
    expect(last?.choices[0]?.delta.tool_calls).toBeUndefined();
    expect(chunks.slice(0, -1).every((chunk) => chunk.choices[0]?.finish_reason === null)).toBe(true);
  });

  it("client.chat.completions.stream() assembles the streamed call into its final message", async () => {
    const stream = openai.chat.completions.stream({
      model: "echo",
      messages: [{ role: "user", content: 'weather for {"city": "Quito"}' }],
      tools: [weatherTool],
      tool_choice: "required",
    });
    const completion = await stream.finalChatCompletion();
    const call = completion.choices[0]?.message.tool_calls?.[0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(completion.choices[0]?.finish_reason).toBe("tool_calls");
    expect(call.function.name).toBe("weather");
    expect(JSON.parse(call.function.arguments)).toEqual({ city: "Quito" });
  });

  it.each([false, true])("the SDK's runTools helper runs the whole loop (stream: %s)", async (stream) => {
    const ran: unknown[] = [];
    const tool: RunnableToolFunctionWithParse<{ city: string }> = {
      type: "function",
      function: {
        name: "weather",
        description: "The weather in a city",
        parameters: weatherParameters,
        parse: (text) => JSON.parse(text) as { city: string },
        function: (args) => {
          ran.push(args);
          return weather(args);
        },
      },
    };
    const request = { model: "echo", messages: [{ role: "user" as const, content: 'Ask the weather tool: {"city": "Oslo"}' }], tools: [tool] };
    const runner = stream ? openai.chat.completions.runTools({ ...request, stream: true }) : openai.chat.completions.runTools(request);
    const content = await runner.finalContent();
    expect(ran).toEqual([{ city: "Oslo" }]);
    expect(content).toContain("Sunny and 21 degrees in Oslo");
    expect(runner.messages.map((message) => message.role)).toEqual(["user", "assistant", "tool", "assistant"]);
  });

  /** Each malformed tool field, and the `param` its 400 must name. */
  const refused: { name: string; body: Body; param: string; message?: RegExp }[] = [
    { name: "a tool name with a space", body: { tools: [{ type: "function", function: { name: "get weather" } }] }, param: "tools[0].function.name", message: /1 to 64 letters/ },
    { name: "a tool name of 65 characters", body: { tools: [{ type: "function", function: { name: "x".repeat(65) } }] }, param: "tools[0].function.name" },
    { name: "two tools of one name", body: { tools: [weatherTool, weatherTool] }, param: "tools[1].function.name", message: /used twice/ },
    { name: "parameters that are no object schema", body: { tools: [{ type: "function", function: { name: "f", parameters: { type: "string" } } }] }, param: "tools[0].function.parameters", message: /object schema/ },
    { name: "parameters that are no object", body: { tools: [{ type: "function", function: { name: "f", parameters: "{}" } }] }, param: "tools[0].function.parameters" },
    { name: "a tool of another type", body: { tools: [{ type: "code_interpreter" }] }, param: "tools[0].type" },
    { name: "a tool without a function", body: { tools: [{ type: "function" }] }, param: "tools[0].function" },
    { name: "129 tools", body: { tools: Array.from({ length: 129 }, (_, index) => ({ type: "function", function: { name: `f${index}` } })) }, param: "tools" },
    { name: "an unknown tool_choice", body: { tools: [weatherTool], tool_choice: "sometimes" }, param: "tool_choice" },
    { name: "tool_choice naming no offered tool", body: { tools: [weatherTool], tool_choice: { type: "function", function: { name: "stock_price" } } }, param: "tool_choice", message: /stock_price/ },
    { name: "tool_choice required without tools", body: { tool_choice: "required" }, param: "tool_choice" },
    {
      name: "a tool message answering no call",
      body: { messages: [{ role: "user", content: "hi" }, { role: "tool", tool_call_id: "call_nowhere", content: "sunny" }] },
      param: "messages[1].tool_call_id",
      message: /call_nowhere/,
    },
    {
      name: "a tool message answering a later call",
      body: {
        messages: [
          { role: "user", content: "hi" },
          { role: "tool", tool_call_id: "call_1", content: "sunny" },
          { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "weather", arguments: "{}" } }] },
        ],
      },
      param: "messages[1].tool_call_id",
    },
    { name: "a tool message without tool_call_id", body: { messages: [{ role: "user", content: "hi" }, { role: "tool", content: "sunny" }] }, param: "messages[1].tool_call_id" },
    {
      name: "tool_calls on a user message",
      body: { messages: [{ role: "user", content: "hi", tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] }] },
      param: "messages[0].tool_calls",
    },
    {
      name: "an assistant tool call of another type",
      body: { messages: [{ role: "user", content: "hi" }, { role: "assistant", content: null, tool_calls: [{ id: "c", type: "custom", function: { name: "f", arguments: "{}" } }] }] },
      param: "messages[1].tool_calls[0].type",
    },
    {
      name: "an assistant tool call without arguments",
      body: { messages: [{ role: "user", content: "hi" }, { role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f" } }] }] },
      param: "messages[1].tool_calls[0].function.arguments",
    },
    {
      name: "two calls of one id",
      body: {
        messages: [
          { role: "user", content: "hi" },
          { role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] },
          { role: "tool", tool_call_id: "c", content: "1" },
          { role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] },
        ],
      },
      param: "messages[3].tool_calls[0].id",
    },
    { name: "an assistant message with neither content nor tool_calls", body: { messages: [{ role: "user", content: "hi" }, { role: "assistant" }] }, param: "messages[1].content" },
    { name: "the deprecated functions", body: { functions: [{ name: "weather", parameters: weatherParameters }] }, param: "functions", message: /"tools"/ },
    { name: "the deprecated function_call", body: { function_call: { name: "weather" } }, param: "function_call", message: /"tool_choice"/ },
  ];

  it.each(refused)("refuses $name with a 400 naming $param", async ({ body, param, message }) => {
    for (const stream of [false, true]) {
      const error = await openai.chat.completions
        .create({ model: "echo", messages: [{ role: "user", content: "hi" }], ...body, stream } as OpenAI.ChatCompletionCreateParamsNonStreaming)
        .then(
          () => undefined,
          (caught: unknown) => caught,
        );
      expect(error, `stream: ${stream}`).toBeInstanceOf(OpenAI.BadRequestError);
      const refusal = error as InstanceType<typeof OpenAI.BadRequestError>;
      expect({ code: refusal.code, param: refusal.param }, `stream: ${stream}`).toEqual({ code: "bad_request", param });
      if (message) expect(refusal.message).toMatch(message);
    }
  });

  it("accepts an assistant turn with text before its calls, several calls, and tool content as text parts", async () => {
    const calls = [
      { id: "call_a", type: "function" as const, function: { name: "weather", arguments: '{"city":"Rome"}' } },
      { id: "call_b", type: "function" as const, function: { name: "clock", arguments: "" } },
    ];
    const completion = await openai.chat.completions.create({
      model: "echo",
      tools: [weatherTool, clockTool],
      messages: [
        { role: "user", content: "Weather and time?" },
        { role: "assistant", content: "Let me look.", tool_calls: calls },
        { role: "tool", tool_call_id: "call_a", content: [{ type: "text", text: "Rainy in Rome" }] },
        { role: "tool", tool_call_id: "call_b", content: "12:00" },
      ],
    });
    const content = completion.choices[0]?.message.content ?? "";
    expect(completion.choices[0]?.finish_reason).toBe("stop");
    // The echo engine repeats its prompt: the calls and both results are in it.
    for (const text of ["Let me look.", '"city":"Rome"', "Rainy in Rome", "12:00"]) expect(content).toContain(text);
  });
});

describe("client tools beside the node's own (a plugin's tools)", () => {
  let node: TestNode;
  let openai: OpenAI;

  beforeAll(async () => {
    node = await startTestNode({ agent: { engine: "echo" }, plugins: [{ path: path.join(fixtures, "ward-tools-plugin.ts") }] });
    openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token(), maxRetries: 0 });
  });
  afterAll(async () => node?.close());

  it("a node tool runs inside the request: the client gets the answer with its result, never the call", async () => {
    const completion = await openai.chat.completions.create({
      model: "echo",
      messages: [{ role: "user", content: 'Free beds? {"ward": "icu"}' }],
      tools: [weatherTool],
      tool_choice: { type: "function", function: { name: "free_beds" } },
    });
    expect(completion.choices[0]?.finish_reason).toBe("stop");
    expect(completion.choices[0]?.message.tool_calls).toBeUndefined();
    expect(completion.choices[0]?.message.content).toContain('{"ward":"icu","free":1}');
    // Clawbot extension: the node's own calls are listed, with how each ended.
    const steps = (completion as unknown as { tool_steps?: unknown[] }).tool_steps;
    expect(steps).toEqual([expect.objectContaining({ name: "free_beds", arguments: '{"ward":"icu"}', outcome: "ok", content: '{"ward":"icu","free":1}' })]);
  });

  it("streamed, the last chunk lists the node's own calls (tool_steps); answers without any have none", async () => {
    const stream = await openai.chat.completions.create({
      model: "echo",
      stream: true,
      messages: [{ role: "user", content: 'Free beds? {"ward": "ward-2"}' }],
      tool_choice: { type: "function", function: { name: "free_beds" } },
    });
    const chunks: Record<string, unknown>[] = [];
    for await (const chunk of stream) chunks.push(chunk as unknown as Record<string, unknown>);
    const withSteps = chunks.filter((chunk) => chunk.tool_steps !== undefined);
    expect(withSteps).toHaveLength(1);
    expect(withSteps[0]).toMatchObject({ choices: [{ finish_reason: "stop" }], tool_steps: [{ name: "free_beds", outcome: "ok", content: '{"ward":"ward-2","free":0}' }] });
    const plain = await openai.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "hello" }], tool_choice: "none" });
    expect((plain as unknown as { tool_steps?: unknown }).tool_steps).toBeUndefined();
  });

  it("a client tool with a node tool's name hides the node's: its call comes back to the client, and the node's never runs", async () => {
    const clientFreeBeds: OpenAI.ChatCompletionTool = {
      type: "function",
      function: { name: "free_beds", description: "The client's own bed count", parameters: { type: "object", properties: { hospital: { type: "string" } }, required: ["hospital"] } },
    };
    const completion = await openai.chat.completions.create({
      model: "echo",
      messages: [{ role: "user", content: 'Free beds? {"hospital": "north"}' }],
      tools: [clientFreeBeds],
      tool_choice: { type: "function", function: { name: "free_beds" } },
    });
    const call = completion.choices[0]?.message.tool_calls?.[0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(completion.choices[0]?.finish_reason).toBe("tool_calls");
    expect(call.function.name).toBe("free_beds");
    expect(JSON.parse(call.function.arguments)).toEqual({ hospital: "north" });
  });
});

describe("function calling with the real test model (tools.constrained)", () => {
  let node: TestNode;
  let openai: OpenAI;

  beforeAll(async () => {
    node = await startTestNode({ agent: { parallel: 2, max_queue: 4 } });
    openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token(), maxRetries: 0 });
  });
  afterAll(async () => node?.close());

  const orderTool: OpenAI.ChatCompletionTool = {
    type: "function",
    function: {
      name: "order_pet",
      description: "Order a pet",
      parameters: {
        type: "object",
        properties: { animal: { type: "string", enum: ["cat", "dog", "bird"] }, count: { type: "number" } },
        required: ["animal", "count"],
        additionalProperties: false,
      },
    },
  };
  const orderArguments = z.strictObject({ animal: z.enum(["cat", "dog", "bird"]), count: z.number() });

  it("a call forced by tool_choice has arguments that validate, for several seeds, and the result then goes back", async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: "user", content: "Once upon a time a girl wanted a pet" }];
      const completion = await openai.chat.completions.create({
        model: "stories260K",
        messages,
        tools: [orderTool],
        tool_choice: { type: "function", function: { name: "order_pet" } },
        temperature: 1,
        seed,
        max_tokens: 40,
      });
      const message = completion.choices[0]?.message;
      const call = message?.tool_calls?.[0] as OpenAI.ChatCompletionMessageFunctionToolCall;
      expect(completion.choices[0]?.finish_reason, `seed ${seed}`).toBe("tool_calls");
      expect(call.function.name).toBe("order_pet");
      const parsed = orderArguments.safeParse(JSON.parse(call.function.arguments));
      expect(parsed.success, `seed ${seed}: ${call.function.arguments}`).toBe(true);
      messages.push(message as OpenAI.ChatCompletionMessageParam, { role: "tool", tool_call_id: call.id, content: `Ordered ${parsed.data?.count} ${parsed.data?.animal}.` });
      const answer = await openai.chat.completions.create({ model: "stories260K", messages, tools: [orderTool], tool_choice: "none", max_tokens: 16, seed });
      expect(answer.choices[0]?.finish_reason).toMatch(/^(stop|length)$/);
      expect(answer.choices[0]?.message.tool_calls).toBeUndefined();
      expect(answer.usage?.completion_tokens).toBeGreaterThan(0);
    }
  });

  it("refuses a tool schema the call grammar cannot enforce with a 400 about the tools", async () => {
    const unenforceable = { type: "object", properties: { note: { type: "string", maxLength: 1_000_000 } }, required: ["note"] };
    const error = await openai.chat.completions
      .create({ model: "stories260K", messages: [{ role: "user", content: "hi" }], tools: [{ type: "function", function: { name: "note", parameters: unenforceable } }], tool_choice: "required" })
      .catch((caught: unknown) => caught as InstanceType<typeof OpenAI.BadRequestError>);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toMatch(/^tools/);
  });

  it("streams the real model's forced call, whose assembled arguments validate", async () => {
    const stream = openai.chat.completions.stream({
      model: "stories260K",
      messages: [{ role: "user", content: "The little dog" }],
      tools: [orderTool],
      tool_choice: "required",
      seed: 7,
    });
    const completion = await stream.finalChatCompletion();
    const call = completion.choices[0]?.message.tool_calls?.[0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(completion.choices[0]?.finish_reason).toBe("tool_calls");
    expect(orderArguments.safeParse(JSON.parse(call.function.arguments)).success).toBe(true);
  });
});
