// POST /v1/completions (legacy text completion) on a real node, through the official `openai` client: raw prompt, SSE, errors.
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

describe("POST /v1/completions with the real model", () => {
  let node: TestNode;
  let openai: OpenAI;
  let token: string;
  const systemPrompt = "Lily and Ben were best friends who played in the big green park every day.";

  beforeAll(async () => {
    // A system prompt the chat route adds and a raw completion must not.
    node = await startTestNode({ agent: { parallel: 2, max_queue: 4, system_prompt: systemPrompt } });
    token = await node.token();
    openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: token, maxRetries: 0 });
  });
  afterAll(async () => node?.close());

  const post = (body: unknown) =>
    fetch(`${node.httpUrl}/v1/completions`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });

  it("completes the raw prompt without the system prompt or a template, with usage", async () => {
    const prompt = "Once upon a time";
    const completion = await openai.completions.create({ model: "stories260K", prompt, max_tokens: 24, temperature: 0 });
    expect(completion.object).toBe("text_completion");
    expect(completion.model).toBe("stories260K");
    expect(completion.id).toMatch(/^cmpl-/);
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0]).toMatchObject({ index: 0, finish_reason: "length", logprobs: null });
    expect(completion.choices[0]?.text).toMatch(/[a-z]{3,}/);
    // The prompt the model read is the text alone: as many tokens as the engine counts for it without a system prompt.
    const engine = node.daemon.engine;
    expect(completion.usage?.prompt_tokens).toBe(engine.countPromptTokens([{ role: "user", content: prompt }]));
    expect(completion.usage).toMatchObject({ completion_tokens: 24, total_tokens: (completion.usage?.prompt_tokens ?? 0) + 24 });
    const chat = await openai.chat.completions.create({ model: "stories260K", messages: [{ role: "user", content: prompt }], max_tokens: 24, temperature: 0 });
    expect(chat.usage?.prompt_tokens).toBeGreaterThan(completion.usage?.prompt_tokens ?? Infinity);
  });

  it("streams text_completion chunks that add up to the non-streamed answer, with a usage chunk when asked", async () => {
    const request = { model: "stories260K", prompt: "The little dog", max_tokens: 40, temperature: 0 };
    const whole = await openai.completions.create(request);
    const stream = await openai.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
    let text = "";
    let chunks = 0;
    let finishReason: string | null | undefined;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      chunks += 1;
      expect(chunk.object).toBe("text_completion");
      text += chunk.choices[0]?.text ?? "";
      finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
      usage = chunk.usage ?? usage;
    }
    expect(chunks).toBeGreaterThan(10);
    expect(text).toBe(whole.choices[0]?.text);
    expect(finishReason).toBe("length");
    expect(usage?.completion_tokens).toBe(40);
  });

  it("honours stop, seed and echo, and takes a prompt given as an array of one string", async () => {
    const base = { model: "stories260K", prompt: "Once upon a time", max_tokens: 40, temperature: 0 };
    const free = (await openai.completions.create(base)).choices[0]?.text ?? "";
    const word = free.trim().split(/\s+/)[2] as string;
    const stopped = await openai.completions.create({ ...base, stop: [word] });
    expect(stopped.choices[0]?.finish_reason).toBe("stop");
    expect(free.startsWith(stopped.choices[0]?.text ?? "x")).toBe(true);
    expect(stopped.choices[0]?.text).not.toContain(word);
    const echoed = await openai.completions.create({ ...base, echo: true });
    expect(echoed.choices[0]?.text).toBe(`${base.prompt}${free}`);
    const asArray = await openai.completions.create({ ...base, prompt: [base.prompt] });
    expect(asArray.choices[0]?.text).toBe(free);
    const sampled = { ...base, temperature: 1, seed: 7 };
    expect((await openai.completions.create(sampled)).choices[0]?.text).toBe((await openai.completions.create(sampled)).choices[0]?.text);
  });

  it("streams the prompt first with echo", async () => {
    let text = "";
    for await (const chunk of await openai.completions.create({ model: "stories260K", prompt: "Tom had a ball", max_tokens: 8, temperature: 0, echo: true, stream: true })) {
      text += chunk.choices[0]?.text ?? "";
    }
    expect(text.startsWith("Tom had a ball")).toBe(true);
    expect(text.length).toBeGreaterThan("Tom had a ball".length);
  });

  it("refuses fields it does not honour, and bad prompts, with coded 400s that name the field", async () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ prompt: ["one", "two"] }, "bad_request", "prompt"],
      [{ prompt: [] }, "bad_request", "prompt"],
      [{ prompt: [1, 2, 3] }, "bad_request", "prompt"],
      [{ prompt: [[1, 2]] }, "bad_request", "prompt"],
      [{}, "bad_request", "prompt"],
      [{ prompt: 5 }, "bad_request", "prompt"],
      [{ prompt: "hi", n: 2 }, "bad_request", "n"],
      [{ prompt: "hi", best_of: 3 }, "bad_request", "best_of"],
      [{ prompt: "hi", suffix: "end" }, "bad_request", "suffix"],
      [{ prompt: "hi", logprobs: 2 }, "bad_request", "logprobs"],
      [{ prompt: "hi", presence_penalty: 0.5 }, "bad_request", "presence_penalty"],
      [{ prompt: "hi", logit_bias: { "50256": -100 } }, "bad_request", "logit_bias"],
      [{ prompt: "hi", max_tokens: 0 }, "bad_request", "max_tokens"],
      [{ prompt: "hi", temperature: 3 }, "bad_request", "temperature"],
      [{ prompt: "word ".repeat(5000), max_tokens: 4 }, "context_length_exceeded", ""],
    ];
    for (const [body, code, param] of cases) {
      const response = await post(body);
      const answer = (await response.json()) as { error: { code: string; param: string | null } };
      expect([response.status, answer.error.code, answer.error.param ?? ""], JSON.stringify(body).slice(0, 80)).toEqual([400, code, param]);
    }
    // The defaults clients send explicitly are accepted.
    const defaults = await post({ prompt: "hi", max_tokens: 2, n: 1, best_of: 1, suffix: null, logprobs: null, presence_penalty: 0, frequency_penalty: 0, echo: false, user: "u" });
    expect(defaults.status).toBe(200);
  });

  it("refuses an unknown model through the openai client (404 model_not_found)", async () => {
    const error = await openai.completions.create({ model: "gpt-3.5-turbo-instruct", prompt: "hi" }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("model_not_found");
  });
});

describe("POST /v1/completions through the pipeline (echo engine, plugins)", () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode({
      agent: { engine: "echo", system_prompt: "SYSTEM" },
      plugins: [{ builtin: "redact", options: { names: ["Lily"] } }, { builtin: "disclaimer", options: { text: "Not advice." } }],
    });
  });
  afterAll(async () => node?.close());

  it("runs the plugins on the raw prompt and the answer, adds no system prompt, and streams the same", async () => {
    const openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token(), maxRetries: 0 });
    // The echo engine answers with the prompt it was given: the masked raw prompt, then the disclaimer.
    const completion = await openai.completions.create({ model: "echo", prompt: "Lily went\nhome" });
    expect(completion.choices[0]?.text).toBe("[脱敏] went\nhome\n\nNot advice.");
    let streamed = "";
    for await (const chunk of await openai.completions.create({ model: "echo", prompt: "Lily went\nhome", stream: true })) streamed += chunk.choices[0]?.text ?? "";
    expect(streamed).toBe(completion.choices[0]?.text);
  });
});
