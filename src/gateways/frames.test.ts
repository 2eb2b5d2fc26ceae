// The frame parsers: WebSocket frames, and MQTT's frames that carry their own token and stream flag.
import { describe, expect, it } from "vitest";
import { parseClientFrame, parseTransportFrame } from "./frames.js";

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
