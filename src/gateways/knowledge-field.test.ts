// The knowledge request field in frames and HTTP bodies, and citations on finish frames.
import { describe, expect, it } from "vitest";
import type { FinishPart } from "../core/types.js";
import { parseClientFrame, parseTransportFrame, serverFrame, type ChatFrame } from "./frames.js";
import { chatCompletionBodySchema } from "./http/openai-schema.js";
import { toKnowledgeChoice } from "./knowledge-field.js";

const chat = (knowledge: unknown) => parseClientFrame(JSON.stringify({ type: "chat", id: "r1", message: "hi", params: { knowledge } }));

describe("params.knowledge", () => {
  it("takes true, false and named collections (duplicates dropped), and leaves generation params alone", () => {
    for (const [value, choice] of [
      [true, true],
      [false, false],
      [{ collections: ["cases", "guidelines", "cases"] }, { collections: ["cases", "guidelines"] }],
    ] as const) {
      const parsed = chat(value);
      expect(parsed).toHaveProperty("frame");
      expect(toKnowledgeChoice((parsed as { frame: ChatFrame }).frame.params?.knowledge)).toEqual(choice);
    }
    expect(toKnowledgeChoice(undefined)).toBeUndefined();
    expect(toKnowledgeChoice(null)).toBeUndefined();
    const transport = parseTransportFrame(JSON.stringify({ type: "chat", id: "m1", message: "hi", token: "t", params: { knowledge: false } }));
    expect(transport).toMatchObject({ frame: { params: { knowledge: false } } });
  });

  it("refuses other values with bad_request naming the field", () => {
    const names = (count: number) => Array.from({ length: count }, (_, index) => `c${index}`);
    for (const value of ["yes", 1, null, [], {}, { collections: [] }, { collections: "cases" }, { collections: [""] }, { collections: ["x".repeat(129)] }, { collections: names(33) }, { collections: ["a"], extra: 1 }, { collections: [1] }]) {
      expect(chat(value), JSON.stringify(value)).toMatchObject({ id: "r1", error: { code: "bad_request", message: expect.stringContaining("knowledge") } });
    }
    expect(chat({ collections: names(32) })).toHaveProperty("frame");
  });

  it("is a body field of chat completions: null means the default, other shapes are refused", () => {
    const body = (knowledge: unknown) => chatCompletionBodySchema.safeParse({ messages: [{ role: "user", content: "hi" }], knowledge });
    expect(body(null).success).toBe(true);
    expect(body({ collections: ["cases"] }).data?.knowledge).toEqual({ collections: ["cases"] });
    expect(body("all").success).toBe(false);
    expect(body({ collections: [] }).success).toBe(false);
  });
});

describe("citations on the finish frame", () => {
  const finish: FinishPart = { type: "finish", text: "see [1]", finishReason: "stop", usage: { promptTokens: 10, completionTokens: 2 }, timings: { queueMs: 0, ttftMs: 1, totalMs: 2 } };

  it("lists them in snake_case when the turn had sources, and has no citations key otherwise", () => {
    const citations = [{ index: 1, docId: "MR-1", collection: "cases", source: "records.jsonl:1", chunk: 2, score: 0.5 }];
    expect(serverFrame("r1", { ...finish, citations })).toMatchObject({
      type: "finish",
      citations: [{ index: 1, doc_id: "MR-1", collection: "cases", source: "records.jsonl:1", chunk: 2, score: 0.5 }],
    });
    expect(serverFrame("r1", finish)).not.toHaveProperty("citations");
    expect(serverFrame("r1", { ...finish, citations: [] })).not.toHaveProperty("citations");
  });
});
