// Tool catalog cost: TTFT and prompt tokens of a two-turn conversation with 10 tools catalogued and with none, context reuse on.
//
//   BENCH_SKIP_TOOLS=1 npm run bench    (or `npm run bench -- --skip-tools`)   # leave it out
//   node --import tsx bench/tool-prompt-cost.ts                                # this part alone, prints its table
import { pathToFileURL } from "node:url";
import type { ChatMessage, ToolDefinition } from "../src/core/types.js";
import type { EngineTools, LanguageModel } from "../src/engine/language-model.js";
import { createLlamaEngine } from "../src/engine/llama/llama-engine.js";
import { silentLogger } from "../src/logging/logger.js";
import { type BenchOptions, readBenchOptions } from "./options.js";
import { resolveBenchModel } from "./realistic-model.js";
import { median } from "./stats.js";

export interface ToolPromptCostOptions {
  /** Conversations per variant (each two turns), alternating the variants. */
  repetitions: number;
  threads: number;
  /** Tokens each answer may take (greedy). */
  maxTokens: number;
}

/** One turn as the engine's finish reports it. */
export interface MeasuredTurn {
  ttftMs: number;
  promptTokens: number;
  cachedPromptTokens: number;
  completionTokens: number;
}

export interface ToolVariant {
  /** Tools catalogued (choice `none`, so no call happens). */
  tools: number;
  turn1: MeasuredTurn[];
  turn2: MeasuredTurn[];
}

export interface ToolPromptCostResult {
  options: ToolPromptCostOptions;
  model: string;
  contextSize: number;
  /** The catalog's length in characters (JSON of the 10 tools) and the tokens it adds to the prompt. */
  catalogChars: number;
  catalogTokens: number;
  variants: ToolVariant[];
}

const contextSize = 8192;
const systemPrompt = "You are the assistant of a small hospital ward. Be brief and precise.";
const firstTurn = "Once upon a time the night nurse asked which rooms still need their evening check.";
const secondTurn = "Then she asked for the list of patients in ward 2, sorted by the time of their last visit.";

/** Ten tools with realistic schemas (descriptions, enums, bounds, nested objects), about 150 tokens each in a BPE vocabulary. */
export const benchTools: ToolDefinition[] = [
  tool("set_alarm", "Sets an alarm in a room of the ward; it rings at the nurses' station after the given number of minutes.", {
    room: { type: "string", enum: ["ward-1", "ward-2", "ward-3", "icu", "recovery"], description: "The room the alarm is for" },
    minutes: { type: "integer", minimum: 1, maximum: 240, description: "Minutes from now until it rings" },
    reason: { type: "string", maxLength: 80, description: "Shown on the station's screen when it rings" },
  }),
  tool("page_staff", "Pages a member of staff on their pager, with a short message and an urgency level that decides the sound.", {
    role: { type: "string", enum: ["nurse", "doctor", "surgeon", "porter", "pharmacist"], description: "Who to page" },
    urgency: { type: "string", enum: ["routine", "soon", "immediate"], description: "How fast they must answer" },
    message: { type: "string", maxLength: 120, description: "The text on the pager" },
  }),
  tool("list_patients", "Lists the patients of a ward, with their bed, age and the time of their last visit, optionally sorted.", {
    ward: { type: "string", enum: ["ward-1", "ward-2", "ward-3", "icu", "recovery"], description: "The ward to list" },
    sort_by: { type: "string", enum: ["bed", "name", "last_visit", "age"], description: "The order of the list" },
    limit: { type: "integer", minimum: 1, maximum: 50, description: "Most patients to return" },
  }),
  tool("record_vitals", "Records a patient's vital signs as measured now; values outside the normal range raise an alert.", {
    patient_id: { type: "string", pattern: "^P[0-9]{6}$", description: "The patient's id, P and six digits" },
    heart_rate: { type: "integer", minimum: 20, maximum: 250, description: "Beats per minute" },
    temperature: { type: "number", minimum: 30, maximum: 45, description: "Body temperature in °C" },
    blood_pressure: { type: "string", pattern: "^[0-9]{2,3}/[0-9]{2,3}$", description: "Systolic/diastolic in mmHg" },
  }),
  tool("order_medication", "Orders a medication from the pharmacy for a patient; the doctor on duty must confirm the order.", {
    patient_id: { type: "string", description: "The patient's id" },
    drug: { type: "string", description: "Generic name of the drug" },
    dose_mg: { type: "number", minimum: 0, description: "Dose in milligrams" },
    route: { type: "string", enum: ["oral", "iv", "im", "subcutaneous", "topical"], description: "How it is given" },
  }),
  tool("book_room", "Books an examination or operating room for a time slot; fails when the slot is already taken.", {
    room: { type: "string", enum: ["exam-1", "exam-2", "theatre-a", "theatre-b", "scanner"], description: "The room to book" },
    start: { type: "string", format: "date-time", description: "Start of the slot (ISO 8601)" },
    duration_minutes: { type: "integer", minimum: 15, maximum: 480, description: "Length of the slot" },
  }),
  tool("search_records", "Searches the ward's notes and records for text; returns the best matches with their dates and authors.", {
    query: { type: "string", minLength: 2, maxLength: 200, description: "Words to look for" },
    since: { type: "string", format: "date", description: "Only records from this day on" },
    max_results: { type: "integer", minimum: 1, maximum: 20, description: "Most matches to return" },
  }),
  tool("request_transport", "Asks the porters to move a patient between rooms, in a bed or a wheelchair, now or at a given time.", {
    patient_id: { type: "string", description: "The patient's id" },
    from: { type: "string", description: "Room the patient is in" },
    to: { type: "string", description: "Room to take the patient to" },
    mode: { type: "string", enum: ["bed", "wheelchair", "walking"], description: "How the patient moves" },
  }),
  tool("update_care_plan", "Adds a step to a patient's care plan, such as a check, a test or a meal restriction, with its schedule.", {
    patient_id: { type: "string", description: "The patient's id" },
    step: {
      type: "object",
      properties: { kind: { type: "string", enum: ["check", "test", "diet", "exercise"] }, detail: { type: "string", maxLength: 100 }, every_hours: { type: "integer", minimum: 1, maximum: 24 } },
      required: ["kind", "detail"],
    },
  }),
  tool("send_handover", "Sends the shift handover note to the next shift's team, by e-mail and on the ward's screen.", {
    shift: { type: "string", enum: ["early", "late", "night"], description: "The shift that takes over" },
    summary: { type: "string", maxLength: 1000, description: "What the next shift must know" },
    urgent_patients: { type: "array", items: { type: "string" }, maxItems: 10, description: "Ids of patients to see first" },
  }),
];

function tool(name: string, description: string, properties: Record<string, unknown>): ToolDefinition {
  return { name, description, parameters: { type: "object", properties, required: Object.keys(properties), additionalProperties: false } };
}

export async function runToolPromptCost(options: ToolPromptCostOptions, modelPath: string, log: (line: string) => void): Promise<ToolPromptCostResult> {
  // One sequence, as the config's default threads; context reuse on (the default), so turn 2 continues turn 1's state.
  const engine = await createLlamaEngine({ modelPath, parallel: 1, threads: options.threads, maxQueue: 4, gpu: false, logger: silentLogger, contextSize, contextReuse: true });
  try {
    const first: ChatMessage[] = [
      { role: "system", content: systemPrompt },
      { role: "user", content: firstTurn },
    ];
    const catalogTokens = engine.countPromptTokens(first, benchTools) - engine.countPromptTokens(first);
    const variants: ToolVariant[] = [0, benchTools.length].map((tools) => ({ tools, turn1: [], turn2: [] }));
    // One untimed round first (the first decodes of a context are slower), then the variants alternate.
    for (let repetition = -1; repetition < options.repetitions; repetition++) {
      for (const variant of variants) {
        const tools: EngineTools | undefined = variant.tools > 0 ? { definitions: benchTools, choice: "none", constrained: true } : undefined;
        const measured = await conversation(engine, `bench-tools-${variant.tools}-${repetition}`, tools, options.maxTokens);
        if (repetition < 0) continue;
        variant.turn1.push(measured[0]);
        variant.turn2.push(measured[1]);
      }
      if (repetition >= 0) log(`  ${repetition + 1}/${options.repetitions} conversations per variant`);
    }
    return { options, model: engine.info.model, contextSize, catalogChars: JSON.stringify(benchTools).length, catalogTokens, variants };
  } finally {
    await engine.close();
  }
}

/** Two turns of one conversation on a sequence that held something else before (turn 1 starts cold). */
async function conversation(engine: LanguageModel, key: string, tools: EngineTools | undefined, maxTokens: number): Promise<[MeasuredTurn, MeasuredTurn]> {
  // An unrelated prompt first: the one sequence then shares no prefix with turn 1 (beyond the beginning of sequence).
  await turn(engine, [{ role: "user", content: "Lily had a red ball." }], undefined, undefined, 1);
  const messages: ChatMessage[] = [
    { role: "system", content: systemPrompt },
    { role: "user", content: firstTurn },
  ];
  const one = await turn(engine, messages, key, tools, maxTokens);
  messages.push({ role: "assistant", content: one.text }, { role: "user", content: secondTurn });
  const two = await turn(engine, messages, key, tools, maxTokens);
  return [one.measured, two.measured];
}

async function turn(engine: LanguageModel, messages: ChatMessage[], conversationKey: string | undefined, tools: EngineTools | undefined, maxTokens: number) {
  for await (const part of engine.stream({ messages, params: { maxTokens, temperature: 0 }, conversation: conversationKey, ...(tools ? { tools } : {}) })) {
    if (part.type === "tool-call") throw new Error("the model called a tool with tool_choice none");
    if (part.type === "finish") {
      const { promptTokens, completionTokens, cachedPromptTokens = 0 } = part.usage;
      return { text: part.text, measured: { ttftMs: part.timings.ttftMs, promptTokens, cachedPromptTokens, completionTokens } };
    }
  }
  throw new Error("the engine ended without a finish");
}

export function renderToolPromptCost(result: ToolPromptCostResult): string {
  const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : "–");
  const middle = (turns: MeasuredTurn[], key: keyof MeasuredTurn) => median(turns.map((item) => item[key]));
  const rows = result.variants.flatMap((variant) =>
    (["turn1", "turn2"] as const).map((name) => {
      const turns = variant[name];
      const evaluated = middle(turns, "promptTokens") - middle(turns, "cachedPromptTokens");
      return `| ${variant.tools === 0 ? "none" : `${variant.tools} tools`} | ${name === "turn1" ? 1 : 2} | ${fixed(middle(turns, "ttftMs"), 2)} | ${middle(turns, "promptTokens")} | ${middle(turns, "cachedPromptTokens")} | ${evaluated} |`;
    }),
  );
  const [none, withTools] = result.variants as [ToolVariant, ToolVariant];
  const ratio = (name: "turn1" | "turn2") => middle(withTools[name], "ttftMs") / middle(none[name], "ttftMs");
  const firstPrompt = middle(withTools.turn1, "promptTokens") + middle(withTools.turn1, "completionTokens");
  return [
    "### Tool catalog: prompt cost across turns",
    "",
    `Model ${result.model}, context ${result.contextSize}, threads ${result.options.threads}, one sequence, context reuse on; a two-turn conversation ` +
      `(same conversation key, greedy answers of up to ${result.options.maxTokens} tokens), with ${withTools.tools} tools catalogued (tool_choice \`none\`, ` +
      `so no call happens) and with none; medians of ${result.options.repetitions} conversations per variant, alternating. The catalog is ` +
      `${result.catalogChars} characters of JSON and adds ${result.catalogTokens} prompt tokens with this model's tokenizer.`,
    "",
    "| Tools | Turn | TTFT ms | prompt tokens | cached prompt tokens | evaluated |",
    "|---|---|---|---|---|---|",
    ...rows,
    "",
    `Turn-2 TTFT with ${withTools.tools} tools / without: **${fixed(ratio("turn2"), 2)}** (turn 1: ${fixed(ratio("turn1"), 2)}). The catalog sits at the ` +
      `prompt's start, so turn 2 reuses it: with tools, turn 2 reads ${middle(withTools.turn2, "cachedPromptTokens")} tokens from the kept state ` +
      `(turn 1's prompt and answer: ${firstPrompt}) and evaluates only the new turn; without the kept state it would read all ` +
      `${middle(withTools.turn2, "promptTokens")} again (turn 1 read ${middle(withTools.turn1, "promptTokens")} in ${fixed(middle(withTools.turn1, "ttftMs"), 0)} ms).`,
  ].join("\n");
}

/** This part's settings from the bench's (BENCH_TOOLS_REPETITIONS, BENCH_THREADS). */
export function toolPromptCostOptions(options: BenchOptions): ToolPromptCostOptions {
  return { repetitions: options.toolsRepetitions, threads: options.threads, maxTokens: 16 };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const modelPath = await resolveBenchModel(process.env.BENCH_MODEL, log);
  const result = await runToolPromptCost(toolPromptCostOptions(readBenchOptions(process.env, [])), modelPath, log);
  process.stdout.write(`${renderToolPromptCost(result)}\n`);
}
