// Which OpenAI chat-completion fields are refused (a 400 naming the field) and which are accepted, through the official `openai` client.
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

type Body = Record<string, unknown>;

const question = [{ role: "user", content: "What is in the picture?" }];
const weatherTool = { type: "function", function: { name: "weather", description: "The weather in a city", parameters: { type: "object", properties: { city: { type: "string" } } } } };

/** Each field a client may send that asks for something not supported yet, and the `param` the 400 must name. */
const refused: { name: string; body: Body; param: string }[] = [
  { name: "functions (deprecated)", body: { functions: [weatherTool.function] }, param: "functions" },
  { name: "function_call naming a function", body: { function_call: { name: "weather" } }, param: "function_call" },
  { name: "a function message (deprecated)", body: { messages: [...question, { role: "function", name: "weather", content: "sunny" }] }, param: "messages[1].role" },
  { name: "n > 1", body: { n: 3 }, param: "n" },
  { name: "audio output", body: { audio: { voice: "alloy", format: "wav" }, modalities: ["text", "audio"] }, param: "audio" },
  { name: "audio modality", body: { modalities: ["text", "audio"] }, param: "modalities" },
  { name: "logit_bias", body: { logit_bias: { "50256": -100 } }, param: "logit_bias" },
  { name: "frequency_penalty", body: { frequency_penalty: 0.5 }, param: "frequency_penalty" },
  { name: "presence_penalty", body: { presence_penalty: -1 }, param: "presence_penalty" },
  { name: "web_search_options", body: { web_search_options: {} }, param: "web_search_options" },
  { name: "llama.cpp grammar", body: { grammar: 'root ::= "yes"' }, param: "grammar" },
  {
    name: "an image content part",
    body: { messages: [{ role: "user", content: [{ type: "text", text: "What is this?" }, { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } }] }] },
    param: "messages[0].content[1]",
  },
  {
    name: "an audio content part",
    body: { messages: [{ role: "system", content: "Be brief." }, { role: "user", content: [{ type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } }] }] },
    param: "messages[1].content[0]",
  },
  { name: "a file content part", body: { messages: [{ role: "user", content: [{ type: "file", file: { file_id: "file-1" } }] }] }, param: "messages[0].content[0]" },
];

/** Fields accepted with the answer unchanged: defaults a client sends, and fields about OpenAI's platform that mean nothing here. */
const accepted: { name: string; body: Body }[] = [
  { name: "defaults of refused fields", body: { tools: [], tool_choice: "none", functions: [], function_call: "auto", n: 1, logit_bias: {}, frequency_penalty: 0, presence_penalty: 0, modalities: ["text"], audio: null } },
  { name: "platform fields", body: { user: "user-1", metadata: { team: "a" }, store: false, service_tier: "auto", parallel_tool_calls: false, safety_identifier: "s", prompt_cache_key: "k" } },
  { name: "hints for other models", body: { reasoning_effort: "low", verbosity: "low", prediction: { type: "content", content: "x" } } },
  { name: "a message name and an assistant refusal", body: { messages: [{ role: "user", name: "alice", content: "hi" }, { role: "assistant", content: "ok", refusal: null }, { role: "user", content: "again" }] } },
];

describe("OpenAI chat-completion fields", () => {
  let node: TestNode;
  let openai: OpenAI;

  beforeAll(async () => {
    node = await startTestNode({ agent: { engine: "echo" } });
    openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token(), maxRetries: 0 });
  });
  afterAll(async () => node?.close());

  const create = (body: Body) => openai.chat.completions.create({ model: "echo", messages: question, ...body } as OpenAI.ChatCompletionCreateParamsNonStreaming);

  it.each(refused)("refuses $name with a 400 that names the field", async ({ body, param }) => {
    for (const stream of [false, true]) {
      const error = await create({ ...body, stream }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error, `stream: ${stream}`).toBeInstanceOf(OpenAI.BadRequestError);
      const { code, type, message } = error as InstanceType<typeof OpenAI.BadRequestError>;
      expect({ code, type, param: (error as InstanceType<typeof OpenAI.BadRequestError>).param }).toEqual({ code: "bad_request", type: "invalid_request_error", param });
      expect(message).toMatch(/not supported by this server/);
      expect(message).not.toMatch(/Invalid input|Invalid enum/);
    }
  });

  it.each(accepted)("accepts $name, answering as without them", async ({ body }) => {
    const messages = (body.messages as Body[] | undefined) ?? question;
    const plain = await create({ messages });
    const withFields = await create(body);
    expect(withFields.object).toBe("chat.completion");
    expect(withFields.choices).toHaveLength(1);
    expect(withFields.choices[0]?.message.content).toBe(plain.choices[0]?.message.content);
  });

  it("names the field of a body the schema refuses in OpenAI's notation", async () => {
    const cases: [Body, string, RegExp][] = [
      [{ messages: [{ role: "user", content: 5 }] }, "messages[0].content", /^Invalid "messages\[0\]\.content": Expected (string|array)/],
      [{ messages: [{ role: "user", content: [{ type: "text", text: 7 }] }] }, "messages[0].content[0].text", /Expected string, received number/],
      [{ messages: [{ role: "robot", content: "hi" }] }, "messages[0].role", /^Invalid "messages\[0\]\.role"/],
      [{ messages: undefined }, "messages", /^The "messages" field is required\.$/],
      [{ temperature: 3 }, "temperature", /^Invalid "temperature"/],
    ];
    for (const [body, param, message] of cases) {
      const error = (await create(body).catch((caught: unknown) => caught)) as InstanceType<typeof OpenAI.BadRequestError>;
      expect(error, JSON.stringify(body)).toBeInstanceOf(OpenAI.BadRequestError);
      expect(error.param, JSON.stringify(body)).toBe(param);
      expect((error.error as { message?: string }).message, JSON.stringify(body)).toMatch(message);
    }
  });
});
