// The OpenAI model routes and the `model` field (agent.model_aliases, model_not_found), driven by the official `openai` client.
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

const aliases = ["gpt-4o-mini", "org/some-model"];

/** The error the official client throws, or a failure when the call succeeded. */
async function apiError(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const outcome = await call.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected an API error, got ${JSON.stringify(outcome.value).slice(0, 300)}`);
  expect(outcome.error).toBeInstanceOf(OpenAI.APIError);
  return outcome.error as InstanceType<typeof OpenAI.APIError>;
}

describe("OpenAI model routes and names (echo engine)", () => {
  let node: TestNode;
  let openai: OpenAI;

  beforeAll(async () => {
    node = await startTestNode({ agent: { engine: "echo", model_aliases: aliases } });
    openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token(), maxRetries: 0 });
  });
  afterAll(async () => node?.close());

  it("lists the served model first, then each alias", async () => {
    const models = await openai.models.list();
    expect(models.data.map((model) => model.id)).toEqual(["echo", ...aliases]);
    for (const model of models.data) expect(model).toMatchObject({ object: "model", owned_by: "clawbot", created: expect.any(Number) });
  });

  it("retrieves the served model and each alias (an alias keeps its own id, a slash in it included)", async () => {
    expect(await openai.models.retrieve("echo")).toMatchObject({ id: "echo", object: "model", owned_by: "clawbot" });
    for (const alias of aliases) expect(await openai.models.retrieve(alias)).toMatchObject({ id: alias, object: "model" });
    const unencoded = await fetch(`${node.httpUrl}/v1/models/org/some-model`, { headers: { authorization: `Bearer ${await node.token()}` } });
    expect(await unencoded.json()).toMatchObject({ id: "org/some-model", object: "model" });
  });

  it("answers a model that is not served with 404 model_not_found in OpenAI's shape", async () => {
    const error = await apiError(openai.models.retrieve("gpt-5"));
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error.code).toBe("model_not_found");
    expect(error.param).toBe("model");
    const response = await fetch(`${node.httpUrl}/v1/models/gpt-5`, { headers: { authorization: `Bearer ${await node.token()}` } });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      error: { message: expect.stringContaining('"gpt-5"'), type: "invalid_request_error", param: "model", code: "model_not_found" },
    });
    // Names differ by case or by a suffix only: still not served.
    for (const near of ["ECHO", "echo.gguf", "gpt-4o-mini ", ""]) {
      const answer = await fetch(`${node.httpUrl}/v1/models/${encodeURIComponent(near)}`, { headers: { authorization: `Bearer ${await node.token()}` } });
      expect(answer.status, JSON.stringify(near)).toBe(404);
    }
  });

  it("needs a token to retrieve a model", async () => {
    const anonymous = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: "not-a-jwt", maxRetries: 0 });
    expect(await apiError(anonymous.models.retrieve("echo"))).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it("answers chat completions for the model and its aliases, naming the served model", async () => {
    const messages = [{ role: "user" as const, content: "which model?" }];
    const direct = await openai.chat.completions.create({ model: "echo", messages });
    for (const alias of aliases) {
      const completion = await openai.chat.completions.create({ model: alias, messages });
      expect(completion.model).toBe("echo");
      expect(completion.choices[0]?.message.content).toBe(direct.choices[0]?.message.content);
    }
  });

  it("refuses chat completions for a model that is not served, streamed or not, before generating", async () => {
    const messages = [{ role: "user" as const, content: "hi" }];
    const plain = await apiError(openai.chat.completions.create({ model: "gpt-4o", messages }));
    expect(plain).toBeInstanceOf(OpenAI.NotFoundError);
    expect({ code: plain.code, param: plain.param, type: plain.type }).toEqual({ code: "model_not_found", param: "model", type: "invalid_request_error" });
    expect(plain.message).toContain('"gpt-4o"');
    const streamed = await apiError(openai.chat.completions.create({ model: "gpt-4o", messages, stream: true }));
    expect(streamed).toBeInstanceOf(OpenAI.NotFoundError);
    expect(streamed.code).toBe("model_not_found");
  });

  it("keeps accepting a body without a model, or with an empty one (the served model answers)", async () => {
    const post = async (body: Record<string, unknown>) =>
      fetch(`${node.httpUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${await node.token()}`, "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "no model named" }], ...body }),
      });
    for (const body of [{}, { model: "" }]) {
      const response = await post(body);
      expect(response.status, JSON.stringify(body)).toBe(200);
      expect(await response.json()).toMatchObject({ object: "chat.completion", model: "echo" });
    }
    const wrongType = await post({ model: 42 });
    expect(wrongType.status).toBe(400);
    expect(await wrongType.json()).toMatchObject({ error: { code: "bad_request", param: "model" } });
  });
});

describe("OpenAI model names with the real test model", () => {
  let node: TestNode;
  let openai: OpenAI;

  beforeAll(async () => {
    node = await startTestNode({ agent: { model_aliases: ["gpt-4o-mini"], parallel: 1 } });
    openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token(), maxRetries: 0 });
  });
  afterAll(async () => node?.close());

  it("serves the model file's name and its alias with the same greedy answer; other names are model_not_found", async () => {
    expect((await openai.models.list()).data.map((model) => model.id)).toEqual(["stories260K", "gpt-4o-mini"]);
    expect(await openai.models.retrieve("stories260K")).toMatchObject({ id: "stories260K", object: "model" });
    const request = { messages: [{ role: "user" as const, content: "Once upon a time" }], max_tokens: 16, temperature: 0 };
    const byName = await openai.chat.completions.create({ ...request, model: "stories260K" });
    const byAlias = await openai.chat.completions.create({ ...request, model: "gpt-4o-mini" });
    expect(byAlias.model).toBe("stories260K");
    expect(byName.choices[0]?.message.content).toMatch(/[a-z]{3,}/);
    expect(byAlias.choices[0]?.message.content).toBe(byName.choices[0]?.message.content);
    const error = await apiError(openai.chat.completions.create({ ...request, model: "stories15M" }));
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error.code).toBe("model_not_found");
    expect(error.message).toContain('"stories260K", "gpt-4o-mini"');
  });
});
