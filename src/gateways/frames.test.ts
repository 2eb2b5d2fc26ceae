// The frame parsers: WebSocket frames, and MQTT's frames that carry their own token and stream flag.
import { describe, expect, it } from "vitest";
import { parseClientFrame, parseTransportFrame, serverFrame, toGenerationParams, type ChatFrame } from "./frames.js";

describe("parseTransportFrame", () => {
  it("takes token and stream off a chat frame", () => {
    const parsed = parseTransportFrame(JSON.stringify({ type: "chat", id: "r1", message: "hi", token: "jwt", stream: false }));
    expect(parsed).toEqual({ frame: { type: "chat", id: "r1", message: "hi" }, token: "jwt", stream: false });
    expect(parseTransportFrame(JSON.stringify({ type: "cancel", id: "r1" }))).toEqual({ frame: { type: "cancel", id: "r1" }, token: undefined, stream: true });
  });

  it("refuses bad JSON, non-objects, mistyped fields and auth frames with the id when readable", () => {
    expect(parseTransportFrame("nope")).toMatchObject({ id: null, error: { code: "bad_request" } });
    expect(parseTransportFrame("[1]")).toMatchObject({ id: null, error: { code: "bad_request" } });
    expect(parseTransportFrame(JSON.stringify({ type: "chat", id: "r2", message: "hi", stream: "no" }))).toMatchObject({ id: "r2", error: { code: "bad_request", message: expect.stringContaining("stream") } });
    expect(parseTransportFrame(JSON.stringify({ type: "auth", token: "x" }))).toMatchObject({ error: { code: "bad_request", message: expect.stringContaining("token field") } });
    expect(parseTransportFrame(JSON.stringify({ type: "chat", id: "r3" }))).toMatchObject({ id: "r3", error: { code: "bad_request" } });
  });

  it("leaves WebSocket frames strict: token and stream are unknown keys there", () => {
    expect(parseClientFrame(JSON.stringify({ type: "chat", id: "r1", message: "hi", stream: false }))).toMatchObject({ id: "r1", error: { code: "bad_request" } });
  });
});

describe("response_format and logprobs in chat params", () => {
  const chat = (params: unknown) => parseClientFrame(JSON.stringify({ type: "chat", id: "r1", message: "hi", params }));

  it("maps them onto generation params", () => {
    const schema = { type: "object", properties: { a: { type: "string" } } };
    const parsed = chat({ response_format: { type: "json_schema", json_schema: { name: "a", schema } }, logprobs: true, top_logprobs: 2 });
    expect(toGenerationParams((parsed as { frame: ChatFrame }).frame.params)).toMatchObject({ responseFormat: { type: "json_schema", schema, name: "a" }, logprobs: { top: 2 } });
    const plain = chat({ response_format: { type: "text" }, logprobs: false });
    expect(toGenerationParams((plain as { frame: ChatFrame }).frame.params)).toMatchObject({ responseFormat: undefined, logprobs: undefined });
    const noSchema = chat({ response_format: { type: "json_schema", json_schema: { name: "any" } } });
    expect(toGenerationParams((noSchema as { frame: ChatFrame }).frame.params).responseFormat).toEqual({ type: "json_object" });
  });

  it("refuses top_logprobs without logprobs, above 20, and unknown formats", () => {
    for (const params of [{ top_logprobs: 1 }, { logprobs: true, top_logprobs: 21 }, { response_format: { type: "yaml" } }, { response_format: "json" }]) {
      expect(chat(params)).toMatchObject({ id: "r1", error: { code: "bad_request" } });
    }
  });

  it("writes logprobs on text-delta frames in OpenAI's entry shape", () => {
    const logprobs = [{ token: " a", logprob: -0.5, bytes: [32, 97], top: [{ token: " a", logprob: -0.5, bytes: [32, 97] }] }];
    expect(serverFrame("r1", { type: "text-delta", text: " a", logprobs })).toEqual({
      type: "text-delta",
      id: "r1",
      text: " a",
      logprobs: [{ token: " a", logprob: -0.5, bytes: [32, 97], top_logprobs: [{ token: " a", logprob: -0.5, bytes: [32, 97] }] }],
    });
    expect(serverFrame("r1", { type: "text-delta", text: " a" })).toEqual({ type: "text-delta", id: "r1", text: " a" });
  });
});
