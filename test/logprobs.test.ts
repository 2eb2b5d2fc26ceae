// logprobs / top_logprobs against the real model: the official openai client (JSON and SSE), WebSocket frames, echo, plugins.
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNode, type TestNode } from "./helpers/test-node.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

type Entry = OpenAI.ChatCompletionTokenLogprob;

const utf8 = (text: string) => [...Buffer.from(text, "utf8")];

/** What holds for every entry: a log-probability, its bytes, at most `top` alternatives, most likely first. */
function checkEntries(entries: Entry[], top: number): void {
  for (const entry of entries) {
    expect(entry.logprob).toBeLessThanOrEqual(0);
    expect(entry.bytes).toEqual(utf8(entry.token));
    expect(entry.top_logprobs.length).toBeLessThanOrEqual(top);
    const values = entry.top_logprobs.map((alternative) => alternative.logprob);
    expect(values).toEqual([...values].sort((a, b) => b - a));
    for (const alternative of entry.top_logprobs) expect(alternative.bytes).toEqual(utf8(alternative.token));
  }
}

describe("logprobs with the official openai client", () => {
  let node: TestNode;
  let openai: OpenAI;
  const request = { model: "stories260K", messages: [{ role: "user" as const, content: "Once upon a time" }], max_tokens: 24, temperature: 0 };

  beforeAll(async () => {
    node = await startTestNode({ agent: { parallel: 2 } });
    openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token(), maxRetries: 0 });
  });
  afterAll(async () => node?.close());

  it("null when not asked for", async () => {
    const completion = await openai.chat.completions.create(request);
    expect(completion.choices[0]?.logprobs).toBeNull();
  });

  it("one entry per generated token, spelling the answer; greedy picks the most likely token", async () => {
    const completion = await openai.chat.completions.create({ ...request, logprobs: true, top_logprobs: 5 });
    const choice = completion.choices[0];
    const entries = choice?.logprobs?.content ?? [];
    expect(entries).toHaveLength(completion.usage?.completion_tokens ?? -1);
    expect(entries.map((entry) => entry.token).join("")).toBe(choice?.message.content);
    checkEntries(entries, 5);
    for (const entry of entries) {
      expect(entry.top_logprobs).toHaveLength(5);
      // temperature 0: the chosen token is the most likely one.
      expect(entry.top_logprobs[0]).toEqual({ token: entry.token, logprob: entry.logprob, bytes: entry.bytes });
    }
    // The model is not certain of every token of a story.
    expect(entries.some((entry) => entry.logprob < -0.01)).toBe(true);
  });

  it("logprobs without alternatives, and the same entries when streamed, chunk by chunk", async () => {
    const whole = await openai.chat.completions.create({ ...request, logprobs: true });
    const entries = whole.choices[0]?.logprobs?.content ?? [];
    for (const entry of entries) expect(entry.top_logprobs).toEqual([]);
    const stream = await openai.chat.completions.create({ ...request, logprobs: true, stream: true });
    const streamed: Entry[] = [];
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta.content) {
        // Each chunk's entries spell its text.
        expect(choice.logprobs?.content?.map((entry) => entry.token).join("")).toBe(choice.delta.content);
      }
      streamed.push(...(choice?.logprobs?.content ?? []));
    }
    expect(streamed).toEqual(entries);
  });

  it("under a JSON grammar only allowed tokens are alternatives: the opening brace is certain", async () => {
    const completion = await openai.chat.completions.create({
      ...request,
      max_tokens: 100,
      logprobs: true,
      top_logprobs: 3,
      response_format: { type: "json_schema", json_schema: { name: "flag", schema: { type: "object", properties: { ok: { type: "boolean" } } } } },
    });
    const entries = completion.choices[0]?.logprobs?.content ?? [];
    expect(JSON.parse(completion.choices[0]?.message.content ?? "")).toHaveProperty("ok");
    expect(entries[0]).toMatchObject({ token: "{", logprob: 0, top_logprobs: [{ token: "{", logprob: 0 }] });
    checkEntries(entries, 3);
  });

  it("top_logprobs without logprobs, or above 20, is a 400 naming the field", async () => {
    for (const body of [{ top_logprobs: 2 }, { logprobs: true, top_logprobs: 21 }]) {
      const error = await openai.chat.completions.create({ ...request, ...body }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect((error as InstanceType<typeof OpenAI.BadRequestError>).message).toContain("top_logprobs");
    }
  });
});

describe("logprobs through WebSocket frames", () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await startTestNode({ agent: { parallel: 1 } });
  });
  afterAll(async () => node?.close());

  it("each text-delta carries its tokens' entries; the finish carries them all", async () => {
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    await client.chat("l1", "The little dog", { max_tokens: 16, logprobs: true, top_logprobs: 2 });
    const deltas = client.frames.filter((frame) => frame.type === "text-delta" && frame.id === "l1");
    const end = client.frames.find((frame) => frame.type === "finish" && frame.id === "l1") as Record<string, unknown>;
    const fromDeltas = deltas.flatMap((frame) => {
      const entries = frame.logprobs as Entry[];
      expect(entries.map((entry) => entry.token).join("")).toBe(frame.text);
      return entries;
    });
    expect(end.logprobs).toEqual(fromDeltas);
    expect(fromDeltas).toHaveLength((end.usage as { completion_tokens: number }).completion_tokens);
    checkEntries(fromDeltas, 2);
    client.close();
  });

  it("top_logprobs without logprobs is an error frame", async () => {
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    const { end } = await client.chat("l2", "hi", { top_logprobs: 1 });
    expect(end).toMatchObject({ type: "error", code: "bad_request" });
    expect(end.message).toContain("top_logprobs");
    client.close();
  });
});

describe("logprobs with the echo engine and with output plugins", () => {
  let echo: TestNode;
  let rewriting: TestNode;

  beforeAll(async () => {
    echo = await startTestNode({ agent: { engine: "echo" } });
    rewriting = await startTestNode({ agent: { engine: "echo" }, plugins: [{ builtin: "disclaimer", options: { text: "Not advice." } }] });
  });
  afterAll(async () => {
    await echo?.close();
    await rewriting?.close();
  });

  it("echo: every echoed word is certain (logprob 0), its own only alternative", async () => {
    const openai = new OpenAI({ baseURL: `${echo.httpUrl}/v1`, apiKey: await echo.token(), maxRetries: 0 });
    const completion = await openai.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "hello big world" }], logprobs: true, top_logprobs: 3 });
    const entries = completion.choices[0]?.logprobs?.content ?? [];
    expect(entries.map((entry) => entry.token).join("")).toBe(completion.choices[0]?.message.content);
    for (const entry of entries) expect(entry).toEqual({ token: entry.token, logprob: 0, bytes: utf8(entry.token), top_logprobs: [{ token: entry.token, logprob: 0, bytes: utf8(entry.token) }] });
  });

  it("a plugin that may rewrite the answer drops them: they would describe text the client does not get", async () => {
    const openai = new OpenAI({ baseURL: `${rewriting.httpUrl}/v1`, apiKey: await rewriting.token(), maxRetries: 0 });
    const completion = await openai.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "hello big world" }], logprobs: true });
    expect(completion.choices[0]?.message.content).toContain("Not advice.");
    expect(completion.choices[0]?.logprobs).toBeNull();
  });
});
