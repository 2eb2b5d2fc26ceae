// Stage 4b, retrieve: the knowledge base's top chunks for the new turn, put into it with numbered source tags, within a token budget.
import { ClawError } from "../core/errors.js";
import type { ChatMessage, Citation } from "../core/types.js";
import type { LanguageModel } from "../engine/language-model.js";
import type { CollectionScope, RetrievedChunk, Retriever } from "../knowledge/knowledge-types.js";
import type { Grant } from "../security/policy/role-grant.js";
import { messageTokens, promptBudget } from "./prompt-builder.js";

/** What a request asks of the knowledge base: nothing (`false`), the defaults (`true`, absent), or named collections. */
export type KnowledgeChoice = boolean | { collections?: string[] };

export interface KnowledgeStageOptions {
  retriever: Retriever;
  /** Chunks to put into a turn, at most. */
  topK: number;
  /** Tokens the sources may take in a prompt (lowered to what the context has left). */
  maxPromptTokens: number;
  /** Collections searched when the request names none; undefined: all the request may read. */
  collections?: readonly string[];
}

export interface RetrieveInput {
  /** The new user turn, as the plugins left it: the query, and the text the sources are put before. */
  turn: string;
  choice: KnowledgeChoice | undefined;
  /** The collections the request's roles may read (the policy); undefined: all. */
  granted: Grant | undefined;
  engine: LanguageModel;
  /** The prompt's other messages that must fit beside the sources (system prompt; the whole conversation on the OpenAI path). */
  fixedMessages: ChatMessage[];
  maxTokens: number;
  signal?: AbortSignal;
}

export interface Retrieved {
  /** The turn with the sources before it; the turn unchanged when nothing was found or nothing fits. */
  turn: string;
  citations: Citation[];
}

const instruction =
  "Answer from the numbered sources below when they are relevant, and cite them by number, like [1]. " +
  "If they do not answer the question, say so.";

export class KnowledgeStage {
  constructor(private readonly options: KnowledgeStageOptions) {}

  get mode(): Retriever["mode"] {
    return this.options.retriever.mode;
  }

  async retrieve(input: RetrieveInput): Promise<Retrieved> {
    const none = { turn: input.turn, citations: [] };
    if (input.choice === false || input.turn.trim() === "") return none;
    const collections = this.scope(input.choice, input.granted);
    if (collections !== "*" && collections.length === 0) return none;
    const found = await this.options.retriever.search({ text: input.turn, collections, topK: this.options.topK, signal: input.signal });
    if (found.length === 0) return none;
    const { engine } = input;
    const withQuestion = (turn: string) => engine.countPromptTokens([...input.fixedMessages, { role: "user", content: turn }]);
    const questionTokens = withQuestion(input.turn);
    const room = promptBudget(engine.info.contextSize, input.maxTokens) - questionTokens;
    const budget = Math.min(this.options.maxPromptTokens, room);
    const kept: { chunk: RetrievedChunk; text: string }[] = [];
    let used = messageTokens(engine, { role: "user", content: `${instruction}\n\n` });
    for (const chunk of found) {
      const text = sourceEntry(kept.length + 1, chunk);
      const tokens = messageTokens(engine, { role: "user", content: text });
      if (used + tokens > budget) break;
      used += tokens;
      kept.push({ chunk, text });
    }
    // The entries were counted one by one (an estimate: separators and the question's label were not); the turn as it is
    // sent is counted once, and the last sources dropped while it takes more than the budget.
    const compose = () => `${instruction}\n\n${kept.map((entry) => entry.text).join("\n\n")}\n\nQuestion: ${input.turn}`;
    while (kept.length > 0 && withQuestion(compose()) - questionTokens > budget) kept.pop();
    if (kept.length === 0) return none;
    return {
      turn: compose(),
      citations: kept.map(({ chunk }, index) => ({
        index: index + 1,
        docId: chunk.docId,
        collection: chunk.collection,
        source: chunk.source,
        chunk: chunk.chunk,
        score: chunk.score,
      })),
    };
  }

  /** The collections to search: the request's, else the configured ones, else all — within what the roles may read. */
  private scope(choice: KnowledgeChoice | undefined, granted: Grant | undefined): CollectionScope {
    const requested = typeof choice === "object" ? choice.collections : undefined;
    if (requested && granted !== undefined && granted !== "*") {
      const refused = requested.filter((name) => !granted.has(name));
      if (refused.length > 0) throw new ClawError("forbidden", `Your roles may not read the knowledge collection${refused.length > 1 ? "s" : ""} ${refused.join(", ")}.`);
    }
    const wanted = requested ?? this.options.collections;
    if (granted === undefined || granted === "*") return wanted ?? "*";
    return wanted ? wanted.filter((name) => granted.has(name)) : [...granted];
  }
}

/** One numbered source: its tag line (number, source, document id) and its text. */
function sourceEntry(index: number, chunk: RetrievedChunk): string {
  return `[${index}] ${chunk.source} (${chunk.docId})\n${chunk.text}`;
}
