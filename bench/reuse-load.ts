// Context reuse under load (more conversations than sequences, all at once) and past the context (trimmed history shifted out).
import type WebSocket from "ws";
import { startBenchNode, type BenchNode } from "./bench-node.js";
import { ConversationClient, reuseAgentConfig, reuseSystemPrompt, type ReuseTurn, userMessage } from "./context-reuse.js";
import type { BenchOptions } from "./options.js";
import { median, percentile } from "./stats.js";
import { closeSocket, openSocket } from "./stream-drivers.js";

export interface LoadRun {
  conversations: number;
  /** [conversation][turn − 1] */
  records: ReuseTurn[][];
  seconds: number;
}

export interface ReuseLoadResult {
  parallel: number;
  turns: number;
  systemPromptTokens: number;
  runs: LoadRun[];
  /** Past the context: one conversation on a small context, reuse on and off (the cost of reading the whole prompt). */
  pastContext: { contextSize: number; turns: number; on: ReuseTurn[]; off: ReuseTurn[] };
  secondsTaken: number;
}

/**
 * Under load: `parallel` and then 2 × `parallel` conversations, each on its own WebSocket, all sending their turns at
 * once (the next as soon as the last answer ends), on one daemon with context reuse. Past the context: one conversation
 * of `pastContextTurns` turns on a daemon with a `pastContextSize` context, so the pipeline trims its history several
 * times; the same turns on a daemon with context reuse off show what reading the whole prompt costs at that size.
 */
export async function runReuseLoad(options: BenchOptions, modelPath: string, log: (line: string) => void): Promise<ReuseLoadResult> {
  const startedAt = performance.now();
  const agent = { ...reuseAgentConfig(options), max_queue: 64 };
  const runs: LoadRun[] = [];
  let systemPromptTokens = 0;
  let node: BenchNode | undefined = await startBenchNode(agent, modelPath);
  try {
    const engine = node.daemon.engine;
    const countTokens = (content: string, role: "system" | "user") => engine.countPromptTokens([{ role, content }]) - engine.countPromptTokens([]);
    systemPromptTokens = countTokens(reuseSystemPrompt, "system");
    const messages = (conversation: number, turns: number) =>
      Array.from({ length: turns }, (_unused, turn) => userMessage(conversation * 1000 + turn + 1, options.reuseMessageTokens, (text) => countTokens(text, "user")));
    const warmup = await clientsFor(node, 1);
    await warmup[0]?.client.converse("load-warmup", messages(-1, 2), options.reuseMaxTokens);
    await closeAll(warmup);
    for (const conversations of [options.reuseParallel, 2 * options.reuseParallel]) {
      const clients = await clientsFor(node, conversations);
      const runStartedAt = performance.now();
      const records = await Promise.all(
        clients.map(({ client }, index) => client.converse(`load-${conversations}-${index}`, messages(100 + conversations * 10 + index, options.reuseLoadTurns), options.reuseMaxTokens)),
      );
      runs.push({ conversations, records, seconds: (performance.now() - runStartedAt) / 1000 });
      await closeAll(clients);
      log(`  ${conversations} conversations at once on ${options.reuseParallel} sequences: done`);
    }
    // Counted with this daemon's tokenizer before it closes.
    const pastWarmup = messages(-2, 2);
    const pastMessages = messages(900, options.pastContextTurns);
    await node.close();
    node = undefined;

    const pastAgent = { ...agent, parallel: 1, context_size: options.pastContextSize };
    const past: ReuseTurn[][] = [];
    for (const reuse of [true, false]) {
      const pastNode = await startBenchNode({ ...pastAgent, context_reuse: reuse }, modelPath);
      try {
        const [entry] = await clientsFor(pastNode, 1);
        await entry?.client.converse("past-warmup", pastWarmup, options.reuseMaxTokens);
        past.push((await entry?.client.converse("past", pastMessages, options.reuseMaxTokens)) ?? []);
        if (entry) await closeAll([entry]);
      } finally {
        await pastNode.close();
      }
      log(`  past the context (${options.pastContextSize} tokens), reuse ${reuse ? "on" : "off"}: done`);
    }
    return {
      parallel: options.reuseParallel,
      turns: options.reuseLoadTurns,
      systemPromptTokens,
      runs,
      pastContext: { contextSize: options.pastContextSize, turns: options.pastContextTurns, on: past[0] ?? [], off: past[1] ?? [] },
      secondsTaken: (performance.now() - startedAt) / 1000,
    };
  } finally {
    await node?.close();
  }
}

async function clientsFor(node: BenchNode, count: number): Promise<{ socket: WebSocket; client: ConversationClient }[]> {
  const sockets = await Promise.all(Array.from({ length: count }, () => openSocket(node.wsUrl, node.token)));
  return sockets.map((socket) => ({ socket, client: new ConversationClient(socket) }));
}

async function closeAll(entries: { socket: WebSocket }[]): Promise<void> {
  await Promise.all(entries.map(({ socket }) => closeSocket(socket)));
}

/** Turns whose prompt is shorter than the turn before: the pipeline dropped the oldest exchanges. */
export function trimTurns(records: readonly ReuseTurn[]): number[] {
  return records.flatMap((record, index) => (index > 0 && record.promptTokens < (records[index - 1] as ReuseTurn).promptTokens ? [index + 1] : []));
}

export function renderReuseLoad(result: ReuseLoadResult): string {
  const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : "n/a");
  const table = (header: string[], rows: string[][]) =>
    [header, header.map(() => "---"), ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
  const loadRows = result.runs.map((run) => {
    const later = run.records.flatMap((records) => records.slice(1));
    const prompt = later.reduce((sum, record) => sum + record.promptTokens, 0);
    const cached = later.reduce((sum, record) => sum + (record.cachedPromptTokens ?? 0), 0);
    const floor = later.reduce((sum, record) => sum + Math.min(result.systemPromptTokens, record.promptTokens), 0);
    const turns = run.records.flat().length;
    return [
      `${run.conversations} on ${result.parallel}`,
      `${fixed((100 * cached) / prompt, 1)} %`,
      `${fixed((100 * floor) / prompt, 1)} %`,
      fixed(median(later.map((record) => record.promptTokens - (record.cachedPromptTokens ?? 0))), 0),
      fixed(median(later.map((record) => record.ttftMs)), 1),
      fixed(percentile(later.map((record) => record.ttftMs), 0.9), 1),
      fixed(turns / run.seconds, 2),
    ];
  });
  const { on, off, contextSize } = result.pastContext;
  const trims = trimTurns(on);
  const pastRows = on.map((record, index) => [
    `${index + 1}${trims.includes(index + 1) ? " (trimmed)" : ""}`,
    String(record.promptTokens),
    String(record.cachedPromptTokens ?? "n/a"),
    fixed(record.ttftMs, 1),
    off[index] ? `${off[index]?.promptTokens} / ${fixed(off[index]?.ttftMs ?? Number.NaN, 1)}` : "n/a",
  ]);
  const trimmedTtft = median(trims.map((turn) => (on[turn - 1] as ReuseTurn).ttftMs));
  const otherTtft = median(on.slice(1).filter((_record, index) => !trims.includes(index + 2)).map((record) => record.ttftMs));
  return [
    "### Context reuse under load",
    "",
    `One daemon with context reuse, parallel ${result.parallel}, the context-reuse section's settings (system prompt of ${result.systemPromptTokens} tokens);`,
    `N conversations, each on its own WebSocket, all sending ${result.turns} turns at once (the next as soon as the last answer ends).`,
    "Cached share = Σ cached_prompt_tokens ÷ Σ prompt_tokens over turns 2 and later; floor = the share the system prompt alone gives.",
    "TTFT (turns 2 and later) includes the wait for a sequence: with more conversations than sequences, one keeps its sequence for up to",
    "five turns in a row (the return hold, decision 0005) while the others wait, so the median falls and the tail grows.",
    "",
    table(["Conversations on sequences", "Cached share", "Floor (system prompt)", "Evaluated per turn (median)", "TTFT client median (ms)", "p90 (ms)", "Turns/s"], loadRows),
    "",
    "### Past the context: trimmed history shifted out of the sequence",
    "",
    `One conversation of ${result.pastContext.turns} turns on a ${contextSize}-token context (parallel 1), so the pipeline drops the oldest exchanges`,
    "(four at a time) several times; the engine erases them from the sequence and shifts the rest down instead of reading the kept history again.",
    `The same messages on a daemon with context reuse off show what reading the whole prompt costs (its answers, hence its history, differ).`,
    "",
    table(["Turn", "Prompt tokens", "Cached", "TTFT client (ms)", "Reuse off: prompt / TTFT (ms)"], pastRows),
    "",
    `Median TTFT at the ${trims.length} trimmed turns: ${fixed(trimmedTtft, 1)} ms; at the other turns after the first: ${fixed(otherTtft, 1)} ms.`,
    "",
    `These two sections took ${fixed(result.secondsTaken, 1)} s.`,
  ].join("\n");
}
