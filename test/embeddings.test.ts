// POST /v1/embeddings and LanguageModel.embed on a real node with the real test model, through the official `openai` client.
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

const norm = (vector: ArrayLike<number>) => Math.sqrt(Array.from(vector).reduce((sum, value) => sum + value * value, 0));
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((sum, value, index) => sum + value * (b[index] as number), 0);

const texts = ["The little dog ran in the park.", "The small dog ran in the garden.", "Tom ate an apple at school."];

describe("POST /v1/embeddings with the real model", () => {
  let node: TestNode;
  let openai: OpenAI;
  let token: string;

  beforeAll(async () => {
    node = await startTestNode({ agent: { parallel: 2, max_queue: 4 } });
    token = await node.token();
    openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: token, maxRetries: 0 });
  });
  afterAll(async () => node?.close());

  const post = (body: unknown, headers: Record<string, string> = { authorization: `Bearer ${token}` }) =>
    fetch(`${node.httpUrl}/v1/embeddings`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) });
  const floats = async (input: string | string[]) => openai.embeddings.create({ model: "stories260K", input, encoding_format: "float" });

  it("answers the openai client (base64 by default) with one L2-normalized vector of the model's size per input, and usage", async () => {
    const response = await openai.embeddings.create({ model: "stories260K", input: texts });
    expect(response.object).toBe("list");
    expect(response.model).toBe("stories260K");
    expect(response.data.map((item) => [item.object, item.index])).toEqual(texts.map((_text, index) => ["embedding", index]));
    const dimensions = node.daemon.engine.info.embeddingDimensions;
    expect(dimensions).toBeGreaterThan(0);
    for (const item of response.data) {
      expect(item.embedding).toHaveLength(dimensions as number);
      expect(norm(item.embedding)).toBeCloseTo(1, 5);
    }
    // Each text is at least its words plus the beginning-of-sequence token.
    expect(response.usage.prompt_tokens).toBeGreaterThan(texts.join(" ").split(" ").length);
    expect(response.usage.total_tokens).toBe(response.usage.prompt_tokens);
  });

  it("gives the same vectors as floats and as base64 (float32)", async () => {
    const asBase64 = await openai.embeddings.create({ model: "stories260K", input: texts });
    const asFloats = await floats(texts);
    for (const [index, item] of asFloats.data.entries()) {
      const decoded = Array.from(asBase64.data[index]?.embedding ?? []);
      expect(decoded).toEqual(Array.from(Float32Array.from(item.embedding)));
    }
  });

  it("is deterministic, and a batch gives exactly each input's own vector (in order), as LanguageModel.embed does", async () => {
    const batch = await floats(texts);
    const single = await Promise.all(texts.map((text) => floats(text)));
    expect(batch.data.map((item) => item.embedding)).toEqual(single.map((response) => response.data[0]?.embedding));
    expect((await floats(texts)).data).toEqual(batch.data);
    const direct = await node.daemon.engine.embed?.(texts);
    expect(direct?.vectors).toEqual(batch.data.map((item) => item.embedding));
    expect(direct?.promptTokens).toBe(batch.usage.prompt_tokens);
  });

  it("scores a paraphrase closer than an unrelated sentence", async () => {
    const [dog, smallDog, apple] = (await floats(texts)).data.map((item) => item.embedding);
    expect(dot(dog as number[], smallDog as number[])).toBeGreaterThan(dot(dog as number[], apple as number[]));
  });

  it("computes embeddings while a chat answer streams, and both complete", async () => {
    const chat = openai.chat.completions.create({ model: "stories260K", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 200, stream: true });
    const embedded = floats(Array.from({ length: 20 }, (_value, index) => `${texts[index % 3]} ${index}`));
    let finish: string | null | undefined;
    for await (const chunk of await chat) finish = chunk.choices[0]?.finish_reason ?? finish;
    expect((await embedded).data).toHaveLength(20);
    expect(finish).toBe("length");
  });

  it("bounds concurrent embedding work: parallel requests run, max_queue wait, the next is overloaded; a cancelled one stops", async () => {
    const engine = node.daemon.engine;
    // parallel 2 + max_queue 4: the seventh request at once is refused.
    const outcomes = await Promise.allSettled(Array.from({ length: 7 }, (_value, index) => engine.embed?.([`${texts[0]} ${index}`]) as Promise<unknown>));
    const refused = outcomes.filter((outcome) => outcome.status === "rejected");
    expect(refused.map((outcome) => (outcome as PromiseRejectedResult).reason.code)).toEqual(["overloaded"]);
    const aborted = AbortSignal.abort();
    await expect(engine.embed?.(texts, { signal: aborted })).rejects.toMatchObject({ code: "cancelled" });
    expect((await floats("still serving")).data).toHaveLength(1);
  });

  it("refuses bad inputs with coded 400s that name the field", async () => {
    const dimensions = node.daemon.engine.info.embeddingDimensions as number;
    const cases: [unknown, string, string | RegExp][] = [
      [{ input: "hi", dimensions: dimensions + 1 }, "bad_request", "dimensions"],
      [{ input: ["fine", "word ".repeat(3000)] }, "context_length_exceeded", "input[1]"],
      [{ input: ["fine", ""] }, "bad_request", "input[1]"],
      [{ input: [] }, "bad_request", "input"],
      [{ input: [1, 2, 3] }, "bad_request", "input[0]"],
      [{ input: ["text", [1, 2]] }, "bad_request", "input[1]"],
      [{ input: Array.from({ length: 2049 }, () => "a") }, "bad_request", "input"],
      [{ input: 42 }, "bad_request", "input"],
      [{}, "bad_request", "input"],
      [{ input: "hi", encoding_format: "int8" }, "bad_request", "encoding_format"],
    ];
    for (const [body, code, param] of cases) {
      const response = await post(body);
      const answer = (await response.json()) as { error: { code: string; param: string; message: string } };
      expect([response.status, answer.error.code, answer.error.param], JSON.stringify(body).slice(0, 100)).toEqual([400, code, param]);
    }
    // The message says which input is too long and what fits.
    const tooLong = (await (await post({ input: ["fine", "word ".repeat(3000)] })).json()) as { error: { message: string } };
    expect(tooLong.error.message).toMatch(/^input\[1\] is \d+ tokens; the embedding context holds \d+/);
    // The same dimensions as the model's are accepted.
    expect((await post({ input: "hi", dimensions })).status).toBe(200);
  });

  it("refuses an unknown model (404 model_not_found) and a missing token (401) through the openai client", async () => {
    const unknown = await openai.embeddings.create({ model: "text-embedding-3-small", input: "hi" }).catch((error: unknown) => error);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect((unknown as InstanceType<typeof OpenAI.APIError>).code).toBe("model_not_found");
    const anonymous = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: "not-a-jwt", maxRetries: 0 });
    const refused = await anonymous.embeddings.create({ model: "stories260K", input: "hi" }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
  });
});

describe("POST /v1/embeddings with the echo engine", () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode({ agent: { engine: "echo" } });
  });
  afterAll(async () => node?.close());

  it("serves the echo engine's hashed bag-of-words vectors through the openai client", async () => {
    const openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token(), maxRetries: 0 });
    const response = await openai.embeddings.create({ model: "echo", input: ["red apple pie", "apple pie red", "blue sky"], encoding_format: "float" });
    const [first, reordered, other] = response.data.map((item) => item.embedding as number[]);
    expect(first).toHaveLength(node.daemon.engine.info.embeddingDimensions as number);
    expect(first).toEqual(reordered);
    expect(norm(first as number[])).toBeCloseTo(1, 10);
    expect(dot(first as number[], other as number[])).toBeLessThan(dot(first as number[], reordered as number[]));
    expect(response.usage.prompt_tokens).toBe(4 + 4 + 3);
  });
});
