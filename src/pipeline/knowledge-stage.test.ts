// The retrieve stage: sources put into the new turn with numbered tags, budgeted, scoped by the request and the roles' grant.
import { describe, expect, it } from "vitest";
import type { ChatMessage } from "../core/types.js";
import { EchoEngine } from "../engine/echo/echo-engine.js";
import { renderPlainPrompt } from "../engine/plain-prompt.js";
import type { RetrievalQuery, RetrievedChunk, Retriever } from "../knowledge/knowledge-types.js";
import { KnowledgeStage, type RetrieveInput } from "./knowledge-stage.js";
import { promptBudget } from "./prompt-builder.js";

/** A retriever over fixed chunks: returns the first topK of those in the queried collections, and records each query. */
class FakeRetriever implements Retriever {
  readonly mode = "bm25" as const;
  readonly queries: RetrievalQuery[] = [];
  constructor(private readonly chunks: RetrievedChunk[]) {}

  async search(query: RetrievalQuery): Promise<RetrievedChunk[]> {
    this.queries.push(query);
    const { collections } = query;
    return this.chunks.filter((chunk) => collections === "*" || collections.includes(chunk.collection)).slice(0, query.topK);
  }
}

function chunk(index: number, collection = "cases", words = 20): RetrievedChunk {
  const text = Array.from({ length: words }, (_, word) => `fact${index}w${word}`).join(" ");
  return { chunkId: index + 1, docId: `doc-${index}`, collection, source: `records.jsonl:${index + 1}`, chunk: 0, text, tokens: words, score: 1 / (index + 1), metadata: {} };
}

const chunks = Array.from({ length: 8 }, (_, index) => chunk(index, index % 2 === 0 ? "cases" : "guidelines"));

function stage(options: { topK?: number; maxPromptTokens?: number; collections?: string[]; found?: RetrievedChunk[] } = {}) {
  const retriever = new FakeRetriever(options.found ?? chunks);
  const knowledge = new KnowledgeStage({
    retriever,
    topK: options.topK ?? 5,
    maxPromptTokens: options.maxPromptTokens ?? 1024,
    ...(options.collections ? { collections: options.collections } : {}),
  });
  return { retriever, knowledge };
}

function input(engine: EchoEngine, overrides: Partial<RetrieveInput> = {}): RetrieveInput {
  return { turn: "what does the record say", choice: undefined, granted: undefined, engine, fixedMessages: [], maxTokens: 64, ...overrides };
}

/** Tokens the sources added to the turn (the prompt with the new turn less the prompt with the question alone). */
function addedTokens(engine: EchoEngine, fixed: ChatMessage[], question: string, turn: string): number {
  return engine.countPromptTokens([...fixed, { role: "user", content: turn }]) - engine.countPromptTokens([...fixed, { role: "user", content: question }]);
}

describe("KnowledgeStage.retrieve", () => {
  const engine = new EchoEngine({ contextSize: 4096, parallel: 1, maxQueue: 1 });

  it("puts the chunks into the turn with numbered source tags, the question last, and cites them in rank order", async () => {
    const { knowledge, retriever } = stage({ topK: 3 });
    const result = await knowledge.retrieve(input(engine));
    expect(retriever.queries).toHaveLength(1);
    expect(retriever.queries[0]).toMatchObject({ text: "what does the record say", collections: "*", topK: 3 });
    expect(result.citations).toEqual(
      chunks.slice(0, 3).map((found, index) => ({ index: index + 1, docId: found.docId, collection: found.collection, source: found.source, chunk: found.chunk, score: found.score })),
    );
    for (const [index, found] of chunks.slice(0, 3).entries()) {
      expect(result.turn).toContain(`[${index + 1}] ${found.source} (${found.docId})\n${found.text}`);
    }
    expect(result.turn.indexOf("[1]")).toBeLessThan(result.turn.indexOf("[2]"));
    expect(result.turn.endsWith("Question: what does the record say")).toBe(true);
    expect(result.turn).not.toContain(chunks[3]?.text);
  });

  it("leaves the turn alone and does not search for knowledge: false or an empty turn", async () => {
    const { knowledge, retriever } = stage();
    expect(await knowledge.retrieve(input(engine, { choice: false }))).toEqual({ turn: "what does the record say", citations: [] });
    expect(await knowledge.retrieve(input(engine, { turn: "  \n" }))).toEqual({ turn: "  \n", citations: [] });
    expect(retriever.queries).toHaveLength(0);
  });

  it("leaves the turn alone when nothing is found", async () => {
    const { knowledge, retriever } = stage({ found: [] });
    expect(await knowledge.retrieve(input(engine))).toEqual({ turn: "what does the record say", citations: [] });
    expect(retriever.queries).toHaveLength(1);
  });

  it("keeps fewer chunks under a small max_prompt_tokens, and the sources stay within it", async () => {
    const all = await stage({ topK: 5 }).knowledge.retrieve(input(engine));
    const maxPromptTokens = 60;
    const small = await stage({ topK: 5, maxPromptTokens }).knowledge.retrieve(input(engine));
    expect(all.citations).toHaveLength(5);
    expect(small.citations.length).toBeGreaterThan(0);
    expect(small.citations.length).toBeLessThan(5);
    expect(addedTokens(engine, [], "what does the record say", small.turn)).toBeLessThanOrEqual(maxPromptTokens);
    // The budget was the limit: the next chunk would not have fitted.
    const oneMore = await stage({ topK: small.citations.length + 1, maxPromptTokens: 100_000 }).knowledge.retrieve(input(engine));
    expect(addedTokens(engine, [], "what does the record say", oneMore.turn)).toBeGreaterThan(maxPromptTokens);
  });

  it("counts the turn as it is sent (separators and the question's label too): a tokenizer of characters stays within the budget", async () => {
    // One token per character, as the test model's tiny vocabulary nearly is: every separator counts.
    const characters = new EchoEngine({ contextSize: 8192, parallel: 1, maxQueue: 1 });
    characters.countPromptTokens = (messages) => renderPlainPrompt(messages).length + 1;
    const question = "what does the record say";
    const all = await stage({ topK: 5, maxPromptTokens: 100_000 }).knowledge.retrieve(input(characters, { turn: question }));
    const twoSources = all.turn.indexOf("\n\n[3]");
    for (const maxPromptTokens of [twoSources + 1, twoSources + 12, twoSources + 30]) {
      const result = await stage({ topK: 5, maxPromptTokens }).knowledge.retrieve(input(characters, { turn: question }));
      expect(result.citations.length).toBeGreaterThan(0);
      expect(addedTokens(characters, [], question, result.turn)).toBeLessThanOrEqual(maxPromptTokens);
    }
  });

  it("keeps fewer chunks in a small context, and the prompt with the answer's room still fits it", async () => {
    const small = new EchoEngine({ contextSize: 160, parallel: 1, maxQueue: 1 });
    const system: ChatMessage[] = [{ role: "system", content: "You are a careful assistant for the ward." }];
    const result = await stage({ topK: 5, maxPromptTokens: 100_000 }).knowledge.retrieve(input(small, { fixedMessages: system, maxTokens: 64 }));
    expect(result.citations.length).toBeGreaterThan(0);
    expect(result.citations.length).toBeLessThan(5);
    expect(small.countPromptTokens([...system, { role: "user", content: result.turn }])).toBeLessThanOrEqual(promptBudget(160, 64));
  });

  it("budgets the whole conversation (OpenAI path): a long conversation leaves room for fewer sources, or none", async () => {
    const context = new EchoEngine({ contextSize: 512, parallel: 1, maxQueue: 1 });
    const conversation = (words: number): ChatMessage[] => [
      { role: "system", content: "Be brief." },
      { role: "user", content: "earlier ".repeat(words) },
      { role: "assistant", content: "reply" },
    ];
    const short = await stage({ topK: 5 }).knowledge.retrieve(input(context, { fixedMessages: conversation(10) }));
    const long = await stage({ topK: 5 }).knowledge.retrieve(input(context, { fixedMessages: conversation(300) }));
    expect(short.citations).toHaveLength(5);
    expect(long.citations.length).toBeGreaterThan(0);
    expect(long.citations.length).toBeLessThan(5);
    expect(context.countPromptTokens([...conversation(300), { role: "user", content: long.turn }])).toBeLessThanOrEqual(promptBudget(512, 64));
    // A conversation that already fills the room: the turn goes as it is.
    const full = await stage({ topK: 5 }).knowledge.retrieve(input(context, { fixedMessages: conversation(460) }));
    expect(full).toEqual({ turn: "what does the record say", citations: [] });
  });

  it("searches the named collections, else the configured ones, else all", async () => {
    const named = stage({ collections: ["guidelines"] });
    const result = await named.knowledge.retrieve(input(engine, { choice: { collections: ["cases"] } }));
    expect(named.retriever.queries[0]?.collections).toEqual(["cases"]);
    expect(result.citations.every((citation) => citation.collection === "cases")).toBe(true);
    await named.knowledge.retrieve(input(engine, { choice: true }));
    expect(named.retriever.queries[1]?.collections).toEqual(["guidelines"]);
    const all = stage();
    await all.knowledge.retrieve(input(engine));
    expect(all.retriever.queries[0]?.collections).toBe("*");
  });

  it("applies the roles' grant: narrows the default scope, refuses a named collection it lacks, searches nothing for an empty grant", async () => {
    const granted = new Set(["cases"]);
    const narrowed = stage();
    const result = await narrowed.knowledge.retrieve(input(engine, { granted }));
    expect(narrowed.retriever.queries[0]?.collections).toEqual(["cases"]);
    expect(result.citations.map((citation) => citation.collection)).toEqual(["cases", "cases", "cases", "cases"]);
    const configured = stage({ collections: ["cases", "guidelines"] });
    await configured.knowledge.retrieve(input(engine, { granted }));
    expect(configured.retriever.queries[0]?.collections).toEqual(["cases"]);
    await expect(configured.knowledge.retrieve(input(engine, { granted, choice: { collections: ["cases", "guidelines"] } }))).rejects.toMatchObject({
      code: "forbidden",
      message: expect.stringContaining("guidelines"),
    });
    const nothing = stage();
    expect(await nothing.knowledge.retrieve(input(engine, { granted: new Set() }))).toEqual({ turn: "what does the record say", citations: [] });
    expect(nothing.retriever.queries).toHaveLength(0);
    const everything = stage();
    await everything.knowledge.retrieve(input(engine, { granted: "*", choice: { collections: ["guidelines"] } }));
    expect(everything.retriever.queries[0]?.collections).toEqual(["guidelines"]);
  });

  it("passes the request's signal to the search", async () => {
    const { knowledge, retriever } = stage();
    const controller = new AbortController();
    await knowledge.retrieve(input(engine, { signal: controller.signal }));
    expect(retriever.queries[0]?.signal).toBe(controller.signal);
  });
});
