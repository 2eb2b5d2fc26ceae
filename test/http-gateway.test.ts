// The OpenAI-compatible HTTP gateway against the real model, driven by the official `openai` npm client.
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

describe("http gateway with the official openai client", () => {
  let node: TestNode;
  let openai: OpenAI;

  beforeAll(async () => {
    node = await startTestNode({ agent: { parallel: 2, max_queue: 0 } });
    openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token(), maxRetries: 0 });
  });
  afterAll(async () => node?.close());

  it("answers without streaming, with usage", async () => {
    const completion = await openai.chat.completions.create({
      model: "stories260K",
      messages: [{ role: "user", content: "Once upon a time" }],
      max_tokens: 32,
      temperature: 0,
    });
    expect(completion.object).toBe("chat.completion");
    expect(completion.model).toBe("stories260K");
    expect(completion.choices[0]?.message.content).toMatch(/[a-z]{3,}/);
    expect(completion.choices[0]?.finish_reason).toBe("length");
    expect(completion.usage).toMatchObject({ completion_tokens: 32, total_tokens: (completion.usage?.prompt_tokens ?? 0) + 32 });
  });

  it("streams with SSE; the chunks add up to the non-streamed answer", async () => {
    const request = { model: "stories260K", messages: [{ role: "user" as const, content: "The little dog" }], max_tokens: 40, temperature: 0 };
    const whole = await openai.chat.completions.create(request);
    const stream = await openai.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
    let text = "";
    let chunks = 0;
    let finishReason: string | null | undefined;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      chunks += 1;
      text += chunk.choices[0]?.delta.content ?? "";
      finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
      usage = chunk.usage ?? usage;
    }
    expect(chunks).toBeGreaterThan(10);
    expect(text).toBe(whole.choices[0]?.message.content);
    expect(finishReason).toBe("length");
    expect(usage?.completion_tokens).toBe(40);
  });

  it("lists the model, and reports health and readiness", async () => {
    const models = await openai.models.list();
    expect(models.data.map((model) => model.id)).toEqual(["stories260K"]);
    expect((await fetch(`${node.httpUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${node.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready", engine: "llama", backend: "cpu", parallel: 2, gpu_layers: 0, adapters: [] });
  });

  it("refuses a missing or bad token with 401 in OpenAI's error shape", async () => {
    const anonymous = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: "not-a-jwt", maxRetries: 0 });
    const error = await anonymous.chat.completions
      .create({ model: "stories260K", messages: [{ role: "user", content: "hi" }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("unauthorized");
  });

  it("maps bad requests, oversized bodies and long prompts to coded errors", async () => {
    const token = await node.token();
    const post = (body: string) =>
      fetch(`${node.httpUrl}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body });
    const notJson = await post("{nope");
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: { code: "bad_request", type: "invalid_request_error" } });
    const noMessages = await post(JSON.stringify({ model: "stories260K", messages: [] }));
    expect(noMessages.status).toBe(400);
    const huge = await post(JSON.stringify({ messages: [{ role: "user", content: "x".repeat(2 * 1024 * 1024) }] })).catch(() => undefined);
    expect(huge?.status).toBe(413);
    const tooLong = await openai.chat.completions
      .create({ model: "stories260K", messages: [{ role: "user", content: "word ".repeat(5000) }], max_tokens: 4 })
      .catch((caught: unknown) => caught);
    expect((tooLong as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
    expect((tooLong as InstanceType<typeof OpenAI.APIError>).code).toBe("context_length_exceeded");
    const unknownRoute = await fetch(`${node.httpUrl}/v1/audio/speech`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    expect(unknownRoute.status).toBe(404);
  });

  it("returns 429 overloaded at once when every sequence is busy and the queue is full", async () => {
    const long = { model: "stories260K", messages: [{ role: "user" as const, content: "Once upon a time" }], max_tokens: 1900, stream: true as const };
    const first = await openai.chat.completions.create(long);
    const second = await openai.chat.completions.create(long);
    const refused = await openai.chat.completions
      .create({ model: "stories260K", messages: [{ role: "user", content: "hi" }], max_tokens: 4 })
      .catch((caught: unknown) => caught);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).code).toBe("overloaded");
    // Aborting the HTTP streams frees both sequences at once.
    first.controller.abort();
    second.controller.abort();
    await expect.poll(() => node.daemon.engine.load().active, { timeout: 5_000 }).toBe(0);
    const after = await openai.chat.completions.create({ model: "stories260K", messages: [{ role: "user", content: "hi" }], max_tokens: 4 });
    expect(after.choices[0]?.finish_reason).toBe("length");
  });
});
