// response_format (json_object, json_schema) against the real model, through the official openai client and WebSocket frames.
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { jsonPrefixState } from "./helpers/json-prefix.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

/** A small schema whose values end quickly (enum, integer, boolean), so the tiny test model completes it. */
const petSchema = {
  type: "object",
  properties: {
    animal: { type: "string", enum: ["cat", "dog", "bird"] },
    legs: { type: "integer" },
    friendly: { type: "boolean" },
    name: { anyOf: [{ type: "string", maxLength: 12 }, { type: "null" }] },
  },
  required: ["animal", "legs", "friendly", "name"],
  additionalProperties: false,
} as const;

/** The same schema, as the validator of the answer. */
const pet = z.strictObject({ animal: z.enum(["cat", "dog", "bird"]), legs: z.number().int(), friendly: z.boolean(), name: z.string().max(12).nullable() });

const prompts = ["Once upon a time", "The little dog", "Lily saw a bird", "Tom had a red ball"];

describe("response_format with the official openai client", () => {
  let node: TestNode;
  let openai: OpenAI;

  beforeAll(async () => {
    node = await startTestNode({ agent: { parallel: 2, max_queue: 4 } });
    openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token(), maxRetries: 0 });
  });
  afterAll(async () => node?.close());

  it("json_schema: every answer parses and validates, for several prompts and temperatures", async () => {
    for (const [index, prompt] of prompts.entries()) {
      const completion = await openai.chat.completions.create({
        model: "stories260K",
        messages: [{ role: "user", content: prompt }],
        max_tokens: 200,
        temperature: index % 2 === 0 ? 0 : 1,
        seed: index,
        response_format: { type: "json_schema", json_schema: { name: "pet", schema: petSchema, strict: true } },
      });
      const choice = completion.choices[0];
      expect(choice?.finish_reason).toBe("stop");
      expect(pet.safeParse(JSON.parse(choice?.message.content ?? "")).success).toBe(true);
    }
  });

  it("json_schema while streaming: the chunks add up to JSON that validates", async () => {
    const stream = await openai.chat.completions.create({
      model: "stories260K",
      messages: [{ role: "user", content: "The cat" }],
      max_tokens: 200,
      stream: true,
      response_format: { type: "json_schema", json_schema: { name: "pet", schema: petSchema } },
    });
    let text = "";
    let finishReason: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
    }
    expect(finishReason).toBe("stop");
    expect(pet.parse(JSON.parse(text))).toBeTruthy();
  });

  it("json_object: the answer is JSON from its first token, for several prompts; free text from the same prompt is not", async () => {
    // The tiny test model never closes a free-form object (it writes story text into its strings), so each answer ends
    // at max_tokens: what it wrote must be the beginning of a JSON object. The json_schema tests show complete answers.
    for (const prompt of prompts) {
      const request = { model: "stories260K", messages: [{ role: "user" as const, content: prompt }], max_tokens: 60, temperature: 0 };
      const json = await openai.chat.completions.create({ ...request, response_format: { type: "json_object" } });
      const content = json.choices[0]?.message.content ?? "";
      expect(content.startsWith("{")).toBe(true);
      expect(jsonPrefixState(content)).toBe(json.choices[0]?.finish_reason === "stop" ? "complete" : "prefix");
      // Proof the grammar did the work: the model alone tells a story.
      const text = await openai.chat.completions.create({ ...request, response_format: { type: "text" } });
      expect(jsonPrefixState(text.choices[0]?.message.content ?? "")).toBe("invalid");
    }
  });

  it("max_tokens reached inside the JSON: finish_reason length and the incomplete text, as OpenAI does", async () => {
    const completion = await openai.chat.completions.create({
      model: "stories260K",
      messages: [{ role: "user", content: "Once upon a time" }],
      max_tokens: 3,
      temperature: 0,
      response_format: { type: "json_schema", json_schema: { name: "pet", schema: petSchema } },
    });
    expect(completion.choices[0]?.finish_reason).toBe("length");
    const content = completion.choices[0]?.message.content ?? "";
    expect(jsonPrefixState(content)).toBe("prefix");
  });

  it("a schema the grammar cannot enforce is a 400 naming the keyword, streaming or not", async () => {
    const unsupported = { type: "object", properties: { code: { type: "string", pattern: "^[A-Z]{3}$" } } };
    for (const stream of [false, true]) {
      const error = await openai.chat.completions
        .create({
          model: "stories260K",
          messages: [{ role: "user", content: "hi" }],
          stream,
          response_format: { type: "json_schema", json_schema: { name: "code", schema: unsupported } },
        })
        .then(() => undefined, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      const apiError = error as InstanceType<typeof OpenAI.BadRequestError>;
      expect(apiError.code).toBe("bad_request");
      expect(apiError.message).toContain('"pattern"');
      expect(apiError.param).toBe("response_format.json_schema.schema.properties.code");
    }
  });

  it("refuses a malformed response_format with a 400", async () => {
    const response = await fetch(`${node.httpUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${await node.token()}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], response_format: { type: "yaml" } }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain("response_format");
  });
});

describe("response_format through WebSocket params", () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await startTestNode({ agent: { parallel: 1 } });
  });
  afterAll(async () => node?.close());

  it("json_schema: the deltas and the finish text validate", async () => {
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    const { deltas, end } = await client.chat("j1", "Lily saw a bird", {
      max_tokens: 200,
      response_format: { type: "json_schema", json_schema: { name: "pet", schema: petSchema } },
    });
    expect(end).toMatchObject({ type: "finish", finish_reason: "stop" });
    expect(deltas.join("")).toBe(end.text);
    expect(pet.safeParse(JSON.parse(end.text as string)).success).toBe(true);
    client.socket.close();
  });

  it("an unsupported schema is an error frame naming the keyword; the connection stays usable", async () => {
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    const { end } = await client.chat("j2", "hi", { response_format: { type: "json_schema", json_schema: { schema: { type: "number", minimum: 3 } } } });
    expect(end).toMatchObject({ type: "error", code: "bad_request" });
    expect(end.message).toContain('"minimum"');
    const { end: next } = await client.chat("j3", "hi", { max_tokens: 5 });
    expect(next.type).toBe("finish");
    client.socket.close();
  });
});

describe("response_format with the echo engine", () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await startTestNode({ agent: { engine: "echo" } });
  });
  afterAll(async () => node?.close());

  it("refuses JSON formats with bad_request naming response_format, and answers text as before", async () => {
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    const { end } = await client.chat("e1", "hi there", { response_format: { type: "json_object" } });
    expect(end).toMatchObject({ type: "error", code: "bad_request" });
    expect(end.message).toContain("response_format");
    const { end: text } = await client.chat("e2", "hi there", { response_format: { type: "text" } });
    expect(text).toMatchObject({ type: "finish", finish_reason: "stop" });
    client.socket.close();
  });
});
