// Context reuse: time to first token as a conversation grows, through the pipeline with a session, reuse on vs off.
import { readGgufFileInfo } from "node-llama-cpp";
import type WebSocket from "ws";
import { startBenchNode, type BenchNode } from "./bench-node.js";
import type { BenchOptions } from "./options.js";
import { median } from "./stats.js";
import { closeSocket, openSocket, withTimeout } from "./stream-drivers.js";
import { seededRandom } from "../test/helpers/seeded-random.js";

/** A few dozen tokens, the same in every conversation (so a sequence that served another conversation still holds it). */
export const reuseSystemPrompt = "You are a kind storyteller. You tell short, happy stories for small children.";

export interface ReuseTurn {
  /** Client-side: the chat frame sent → the first non-empty text-delta frame. */
  ttftMs: number;
  /** The finish frame's timings.ttft_ms: measured in the engine, from its stream call (after the pipeline loaded and trimmed the history). */
  engineTtftMs: number;
  promptTokens: number;
  /** usage.cached_prompt_tokens: prompt tokens the sequence already held (undefined when the frame does not carry it). */
  cachedPromptTokens: number | undefined;
  completionTokens: number;
  text: string;
}

export interface ReuseVariant {
  reuse: boolean;
  /** [conversation][turn − 1] */
  conversations: ReuseTurn[][];
}

export interface ContextReuseResult {
  contextSize: number;
  trainContextSize: number | undefined;
  parallel: number;
  turns: number;
  conversations: number;
  maxTokens: number;
  systemPromptTokens: number;
  /** Median size of the user messages, counted on their own. */
  userMessageTokens: number;
  /** Turns the report shows (1-based). */
  reportedTurns: number[];
  variants: ReuseVariant[];
  /** Turns (1-based) whose answer differed between reuse on and off, per conversation (0-based index); empty when none. */
  textMismatches: { conversation: number; turns: number[] }[];
  comparedTurns: number;
  secondsTaken: number;
}

const turnTimeoutMs = 60_000;

/**
 * Two daemons side by side, the same model and settings except `agent.context_reuse`. Each conversation is `turns`
 * user messages of about `messageTokens` tokens sent over WebSocket with one session id, so the pipeline stores the
 * history and re-sends it to the engine every turn, as the product does; answers are greedy and up to `maxTokens`
 * long, so the prompt grows by about messageTokens + maxTokens a turn. Conversations alternate which daemon goes
 * first; each daemon first runs an untimed two-turn warm-up conversation per sequence. Every conversation has its own
 * messages (a fresh session and fresh text), the same for both daemons, so at turn 1 a sequence holds little more of
 * the prompt than the system prompt.
 */
/** The agent settings every context-reuse daemon shares: greedy, the reuse context and system prompt. */
export function reuseAgentConfig(options: BenchOptions): Record<string, unknown> {
  return {
    engine: "llama",
    temperature: 0,
    threads: options.threads,
    parallel: options.reuseParallel,
    context_size: options.reuseContextSize,
    system_prompt: reuseSystemPrompt,
    max_tokens: options.reuseMaxTokens,
  };
}

export async function runContextReuse(options: BenchOptions, modelPath: string, log: (line: string) => void): Promise<ContextReuseResult> {
  const startedAt = performance.now();
  const agent = reuseAgentConfig(options);
  const nodes: BenchNode[] = [];
  const sockets: WebSocket[] = [];
  try {
    for (const reuse of [true, false]) nodes.push(await startBenchNode({ ...agent, context_reuse: reuse }, modelPath));
    for (const node of nodes) sockets.push(await openSocket(node.wsUrl, node.token));
    const engine = (nodes[0] as BenchNode).daemon.engine;
    const countTokens = (content: string, role: "system" | "user") => engine.countPromptTokens([{ role, content }]) - engine.countPromptTokens([]);
    const messagesFor = (conversation: number) =>
      Array.from({ length: options.reuseTurns }, (_unused, turn) => userMessage(conversation * 1000 + turn + 1, options.reuseMessageTokens, (text) => countTokens(text, "user")));
    const clients = sockets.map((socket) => new ConversationClient(socket));
    const variants: ReuseVariant[] = [
      { reuse: true, conversations: [] },
      { reuse: false, conversations: [] },
    ];
    const messageSizes: number[] = [];
    // Untimed warm-up, one short conversation per sequence: JIT, first decodes, and every sequence left holding an earlier
    // conversation (system prompt included), as on a node that has been serving for a while.
    for (const [index, client] of clients.entries()) {
      for (let slot = 0; slot < options.reuseParallel; slot += 1) {
        await client.converse(`warmup-${index}-${slot}`, messagesFor(-1 - slot).slice(0, 2), options.reuseMaxTokens);
      }
    }
    for (let conversation = 0; conversation < options.reuseConversations; conversation += 1) {
      const messages = messagesFor(conversation);
      messageSizes.push(...messages.map((message) => countTokens(message, "user")));
      const order = conversation % 2 === 0 ? [0, 1] : [1, 0];
      for (const index of order) {
        const records = await (clients[index] as ConversationClient).converse(`conversation-${conversation}`, messages, options.reuseMaxTokens);
        (variants[index] as ReuseVariant).conversations.push(records);
      }
      log(`  conversation ${conversation + 1}/${options.reuseConversations} done (reuse on and off)`);
    }
    const textMismatches: ContextReuseResult["textMismatches"] = [];
    let comparedTurns = 0;
    const [on, off] = variants as [ReuseVariant, ReuseVariant];
    on.conversations.forEach((records, conversation) => {
      const turns = records.flatMap((record, turn) => (record.text === off.conversations[conversation]?.[turn]?.text ? [] : [turn + 1]));
      comparedTurns += records.length;
      if (turns.length > 0) textMismatches.push({ conversation, turns });
    });
    let trainContextSize: number | undefined;
    try {
      const info = await readGgufFileInfo(modelPath);
      trainContextSize = (info.architectureMetadata as { context_length?: number }).context_length;
    } catch {
      trainContextSize = undefined;
    }
    return {
      contextSize: engine.info.contextSize,
      trainContextSize,
      parallel: engine.info.parallel,
      turns: options.reuseTurns,
      conversations: options.reuseConversations,
      maxTokens: options.reuseMaxTokens,
      systemPromptTokens: countTokens(reuseSystemPrompt, "system"),
      userMessageTokens: median(messageSizes),
      reportedTurns: [1, Math.ceil(options.reuseTurns / 2), options.reuseTurns].filter((turn, index, all) => all.indexOf(turn) === index),
      variants,
      textMismatches,
      comparedTurns,
      secondsTaken: (performance.now() - startedAt) / 1000,
    };
  } finally {
    await Promise.all(sockets.map((socket) => closeSocket(socket)));
    for (const node of nodes) await node.close();
  }
}

interface ServerFrame {
  type: string;
  id?: string;
  text?: string;
  message?: string;
  code?: string;
  usage?: { prompt_tokens: number; completion_tokens: number; cached_prompt_tokens?: number };
  timings?: { ttft_ms: number };
}

/** One WebSocket connection, one turn at a time. */
export class ConversationClient {
  private nextId = 0;
  private pending: ((frame: ServerFrame, receivedAt: number) => void) | undefined;

  constructor(private readonly socket: WebSocket) {
    socket.on("message", (data) => {
      const receivedAt = performance.now();
      this.pending?.(JSON.parse(String(data)) as ServerFrame, receivedAt);
    });
  }

  async converse(session: string, messages: readonly string[], maxTokens: number): Promise<ReuseTurn[]> {
    const records: ReuseTurn[] = [];
    for (const message of messages) records.push(await withTimeout(this.turn(session, message, maxTokens), turnTimeoutMs, `A turn of ${session}`));
    return records;
  }

  private turn(session: string, message: string, maxTokens: number): Promise<ReuseTurn> {
    const id = `reuse-${this.nextId++}`;
    return new Promise<ReuseTurn>((resolve, reject) => {
      let firstAt: number | undefined;
      let text = "";
      const sentAt = performance.now();
      this.pending = (frame, receivedAt) => {
        if (frame.id !== id) return;
        if (frame.type === "text-delta") {
          if (frame.text) firstAt ??= receivedAt;
          text += frame.text ?? "";
        } else if (frame.type === "finish") {
          this.pending = undefined;
          if (!frame.usage || !frame.timings) return reject(new Error(`A finish frame without usage or timings: ${JSON.stringify(frame)}`));
          resolve({
            ttftMs: (firstAt ?? receivedAt) - sentAt,
            engineTtftMs: frame.timings.ttft_ms,
            promptTokens: frame.usage.prompt_tokens,
            cachedPromptTokens: frame.usage.cached_prompt_tokens,
            completionTokens: frame.usage.completion_tokens,
            text: frame.text ?? text,
          });
        } else if (frame.type === "error") {
          this.pending = undefined;
          reject(new Error(`Error frame in ${session}: ${frame.code ?? ""} ${frame.message ?? JSON.stringify(frame)}`));
        }
      };
      this.socket.send(JSON.stringify({ type: "chat", id, session, message, params: { max_tokens: maxTokens, temperature: 0 } }));
    });
  }
}

const names = ["Lily", "Tom", "Sue", "Ben", "Mia", "Sam", "Anna", "Max"];
const adjectives = ["big", "little", "red", "happy", "soft", "shiny", "funny", "kind", "green", "tiny"];
const nouns = ["dog", "ball", "cat", "tree", "bird", "car", "cake", "box", "kite", "boat"];
const places = ["park", "garden", "house", "forest", "school", "beach", "shop", "pond"];
const verbs = ["saw", "found", "liked", "wanted", "made", "lost", "shared", "painted"];

/** Simple TinyStories-style sentences from a seeded generator: as many as bring the message closest to `targetTokens`. */
export function userMessage(seed: number, targetTokens: number, countTokens: (text: string) => number): string {
  const random = seededRandom((seed * 2654435761) >>> 0);
  const pick = (words: readonly string[]) => words[Math.floor(random() * words.length)] as string;
  let text = "";
  let tokens = 0;
  // Bounded: a sentence is several tokens, so this ends long before the cap.
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const sentence = `${pick(names)} ${pick(verbs)} a ${pick(adjectives)} ${pick(nouns)} in the ${pick(places)}.`;
    const longer = text.length === 0 ? sentence : `${text} ${sentence}`;
    const longerTokens = countTokens(longer);
    if (longerTokens >= targetTokens) return text.length > 0 && targetTokens - tokens < longerTokens - targetTokens ? text : longer;
    text = longer;
    tokens = longerTokens;
  }
  return text;
}
