// The frame protocol's tool fields: params.tool_choice and params.agent, the tool.approve frame, and `param` on errors.
import { describe, expect, it } from "vitest";
import { ClawError } from "../core/errors.js";
import { errorFrame, parseClientFrame, parseTransportFrame, type ChatFrame } from "./frames.js";
import { toToolChoice } from "./tool-choice-field.js";

const chat = (params: unknown) => parseClientFrame(JSON.stringify({ type: "chat", id: "r1", message: "hi", params }));
const choiceOf = (params: unknown) => toToolChoice((chat(params) as { frame: ChatFrame }).frame.params?.tool_choice);

describe("params.tool_choice and params.agent", () => {
  it("maps OpenAI's values and the {name} shorthand onto the pipeline's choice", () => {
    expect(choiceOf({ tool_choice: "auto" })).toBe("auto");
    expect(choiceOf({ tool_choice: "none" })).toBe("none");
    expect(choiceOf({ tool_choice: "required" })).toBe("required");
    expect(choiceOf({ tool_choice: { type: "function", function: { name: "files.read" } } })).toEqual({ name: "files.read" });
    expect(choiceOf({ tool_choice: { name: "free_beds" } })).toEqual({ name: "free_beds" });
    expect(choiceOf({})).toBeUndefined();
    expect(chat({ agent: "triage" })).toMatchObject({ frame: { params: { agent: "triage" } } });
  });

  it("refuses malformed values with bad_request naming the field in param", () => {
    expect(chat({ tool_choice: "sometimes" })).toMatchObject({ error: { message: expect.stringContaining('"auto", "none", "required"') } });
    expect(chat({ tool_choice: { name: "a b" } })).toMatchObject({ error: { message: expect.stringContaining("a tool name is 1 to 64") } });
    for (const tool_choice of ["sometimes", 1, null, {}, { name: "" }, { name: "a b" }, { name: "x".repeat(65) }, { type: "function", function: { name: "a" }, extra: 1 }]) {
      expect(chat({ tool_choice }), JSON.stringify(tool_choice)).toMatchObject({ id: "r1", error: { code: "bad_request", param: "tool_choice", message: expect.stringContaining("tool_choice") } });
    }
    for (const agent of ["", 3, null, "x".repeat(129)]) {
      expect(chat({ agent }), JSON.stringify(agent)).toMatchObject({ id: "r1", error: { code: "bad_request", param: "agent" } });
    }
  });
});

describe("the tool.approve frame", () => {
  it("parses on connections and is refused on stateless transports", () => {
    const frame = { type: "tool.approve", id: "r1", call_id: "call_1", approved: false };
    expect(parseClientFrame(JSON.stringify(frame))).toEqual({ frame });
    expect(parseTransportFrame(JSON.stringify({ ...frame, token: "jwt" }))).toMatchObject({ id: null, error: { code: "bad_request", message: expect.stringContaining("denied") } });
  });

  it("is refused with id null when malformed, so the error never reads as the request's end", () => {
    expect(parseClientFrame(JSON.stringify({ type: "tool.approve", id: "r1", call_id: "c" }))).toMatchObject({ id: null, error: { code: "bad_request", param: "approved" } });
    expect(parseClientFrame(JSON.stringify({ type: "tool.approve", id: "r1", call_id: "", approved: true }))).toMatchObject({ id: null, error: { param: "call_id" } });
    expect(parseClientFrame(JSON.stringify({ type: "tool.approve", id: "r1", call_id: "c", approved: true, more: 1 }))).toMatchObject({ id: null, error: { code: "bad_request" } });
  });
});

describe("errorFrame", () => {
  it("carries param when the error names a field", () => {
    expect(errorFrame("r1", new ClawError("forbidden", "no", { param: "tool_choice" }))).toEqual({ type: "error", id: "r1", code: "forbidden", message: "no", param: "tool_choice" });
    expect(errorFrame(null, new ClawError("internal", "oops"))).toEqual({ type: "error", id: null, code: "internal", message: "oops" });
  });
});
