// `clawbot chat`: a terminal chat client for a running gateway; interactive on a TTY, one answer per stdin line otherwise.
import readline from "node:readline";
import { InvalidArgumentError, type Command } from "commander";
import { ChatClient, ChatClientError, finishStats, type ChatParams, type ChatToolChoice, type FinishFrame, type ToolFrame } from "./chat-client.js";
import { toolNamePattern } from "../config/tools-schema.js";
import { readPublicKey } from "../security/gm/sm2-key-files.js";

interface ChatCommandOptions {
  url: string;
  token?: string;
  session?: string;
  maxTokens?: number;
  temperature?: number;
  /** Use the encrypted SM link (the gateway has `encryption: {type: sm}`). */
  sm?: boolean;
  /** File with the server's SM2 public key (hex or PEM) to pin; implies --sm. */
  serverKey?: string;
  /** params.tool_choice: auto, none, required, or the one tool the model must call. */
  toolChoice?: ChatToolChoice;
  /** params.agent: the node's agent to chat with. */
  agent?: string;
}

/** A line of the answer (stdout) when a cluster's worker was lost mid-answer and another one starts it again; the new text follows on stdout. */
export const restartMarker = "↻ restarted on another worker";

/** A second Ctrl-C within this many milliseconds quits even while an answer streams. */
const doubleInterruptMs = 1000;

/** Shown after a Ctrl-C at an empty prompt; the next one quits. */
export const quitHint = "(Ctrl-C again or Ctrl-D to quit)";

/** What a Ctrl-C does: cancel the answer, quit, clear the typed line, or (at an empty prompt) warn that the next one quits. */
export type InterruptAction = "cancel" | "quit" | "clear-line" | "warn";

export interface InterruptState {
  /** An answer is streaming. */
  busy: boolean;
  /** stdin is a terminal (otherwise Ctrl-C arrives as SIGINT with nothing typed). */
  interactive: boolean;
  /** Text typed at the prompt and not yet sent. */
  typing: boolean;
  /** The previous Ctrl-C was at an empty prompt and nothing was entered since. */
  warned: boolean;
  msSinceLastInterrupt: number;
}

/**
 * Ctrl-C as a shell or the Node.js REPL handles it: during an answer it cancels the answer (a second one within a
 * second quits); at the prompt it clears what was typed; at an empty prompt it warns, and a second one quits.
 * From a pipe there is no prompt: it cancels a running answer, else quits.
 */
export function interruptAction(state: InterruptState): InterruptAction {
  if (state.busy) return state.msSinceLastInterrupt > doubleInterruptMs ? "cancel" : "quit";
  if (!state.interactive) return "quit";
  if (state.typing) return "clear-line";
  return state.warned ? "quit" : "warn";
}

export function registerChatCommand(program: Command): void {
  program
    .command("chat")
    .description("Chat with a running gateway over WebSocket. On a terminal: Ctrl-C cancels an answer, Ctrl-C twice at the prompt or Ctrl-D quits. Piped: answers each stdin line in turn.")
    .option("--url <url>", "WebSocket URL of the gateway", "ws://127.0.0.1:8080")
    .option("--token <jwt>", "access token (default: $CLAWBOT_TOKEN)")
    .option("--session <id>", "session id, to continue a conversation (default: a new random one)")
    .option("--max-tokens <n>", "most tokens per answer", parsePositiveInteger)
    .option("--temperature <t>", "sampling temperature, 0 to 2", parseTemperature)
    .option("--sm", "encrypted link: SM2 key agreement, SM4-GCM sealed frames (gateway encryption: {type: sm})")
    .option("--server-key <file>", "the server's SM2 public key (hex or PEM) to pin; implies --sm")
    .option("--tool-choice <choice>", "which node tools the model may call: auto, none, required, or a tool's name (it must call that one)", parseToolChoice)
    .option("--agent <name>", "the node's agent to chat with (default: the gateway's, else default)", parseAgent)
    .action(async (options: ChatCommandOptions) => {
      process.exitCode = await runChat(options);
    });
}

/** Runs the chat until input ends or the user quits; returns the exit code. */
export async function runChat(options: ChatCommandOptions): Promise<number> {
  const interactive = process.stdin.isTTY === true;
  const token = options.token ?? (process.env.CLAWBOT_TOKEN || undefined);
  const params: ChatParams = { max_tokens: options.maxTokens, temperature: options.temperature, tool_choice: options.toolChoice, agent: options.agent };
  let lostConnection: ChatClientError | undefined;
  /** Whether the answer's last text left the cursor mid-line. */
  const screen = { midLine: false };
  const input = new LineInput(interactive);
  let sm: { serverKey?: string } | undefined;
  try {
    if (options.sm || options.serverKey) sm = options.serverKey ? { serverKey: readPublicKey(options.serverKey) } : {};
  } catch (error) {
    printError(new ChatClientError("bad_request", (error as Error).message));
    input.stop();
    return 1;
  }
  const client = new ChatClient({
    session: options.session,
    ...(sm ? { sm } : {}),
    onTool: (frame) => printToolFrame(frame, interactive),
    // The text so far stays on screen (it cannot be taken back): a marker line in the answer, then the complete new text.
    onRestart: () => {
      const marker = process.stdout.isTTY ? `\x1b[2m${restartMarker}\x1b[0m` : restartMarker;
      process.stdout.write(`${screen.midLine ? "\n" : ""}${marker}\n`);
      screen.midLine = false;
    },
    // A call that writes or sends asks the user at the prompt; piped input cannot answer, so such calls are refused.
    ...(interactive ? { approve: (frame: Extract<ToolFrame, { type: "tool-approval" }>) => askApproval(input, frame) } : {}),
    onClose: (error) => {
      lostConnection = error;
      input.stop();
    },
  });

  try {
    await client.connect(options.url, token);
  } catch (error) {
    printError(error);
    input.stop();
    return 1;
  }
  if (interactive) printDim(`connected to ${options.url} · session ${client.session} · Ctrl-C cancels an answer, Ctrl-C twice or Ctrl-D quits`);
  if (sm && !sm.serverKey) process.stderr.write(`SM link up; the server's key is not pinned (pin it with --server-key): ${client.serverKey}\n`);

  let quitCode: number | undefined;
  let lastInterrupt = 0;
  let warned = false;
  const onInterrupt = (): void => {
    const now = Date.now();
    const action = interruptAction({ busy: client.busy, interactive, typing: input.typing, warned, msSinceLastInterrupt: now - lastInterrupt });
    lastInterrupt = now;
    warned = action === "warn";
    if (action === "cancel") return client.cancel();
    if (action === "clear-line") return input.discardLine();
    if (action === "warn") return input.discardLine(quitHint);
    quitCode = client.busy || !interactive ? 130 : 0;
    input.stop();
    void client.close();
  };
  input.onInterrupt(onInterrupt);

  let failures = 0;
  for (;;) {
    const line = await input.next();
    warned = false;
    if (line === undefined || quitCode !== undefined || lostConnection) break;
    if (line.trim() === "") continue;
    const failure = await answer(client, line, params, screen);
    if (quitCode !== undefined || lostConnection) break;
    if (failure) {
      printError(failure.error);
      failures += 1;
    }
  }

  input.stop();
  await client.close();
  if (quitCode !== undefined) {
    if (interactive) process.stdout.write("\n");
    return quitCode;
  }
  if (lostConnection) {
    printError(lostConnection);
    return 1;
  }
  return !interactive && failures > 0 ? 1 : 0;
}

/** Streams one answer to stdout, then the stats line (stderr); returns the failure, if any, for the caller to report. */
async function answer(client: ChatClient, message: string, params: ChatParams, screen: { midLine: boolean }): Promise<{ error: unknown } | undefined> {
  let streamed = "";
  screen.midLine = false;
  try {
    const finish = await client.ask(message, params, (text) => {
      streamed += text;
      if (text !== "") screen.midLine = !text.endsWith("\n");
      process.stdout.write(text);
    });
    // A cancel that landed before any delta leaves nothing on screen; show what the server kept.
    if (streamed === "" && finish.text) process.stdout.write(finish.text);
    process.stdout.write("\n");
    for (const citation of finish.citations ?? []) printDim(`[${citation.index}] ${citation.source} (${citation.doc_id})`);
    printDim(statsLine(finish));
    return undefined;
  } catch (error) {
    if (streamed !== "") process.stdout.write("\n");
    return { error };
  }
}

function statsLine(finish: FinishFrame): string {
  const { tokens, tokensPerSecond, ttftMs } = finishStats(finish);
  const parts = [`${tokens} tokens`];
  if (tokensPerSecond !== undefined) parts.push(`${tokensPerSecond.toFixed(1)} tok/s`);
  parts.push(`ttft ${Math.round(ttftMs)} ms`);
  if (finish.finish_reason !== "stop") parts.push(finish.finish_reason);
  return `[${parts.join(" · ")}]`;
}

/**
 * One line on stderr per tool step: `→ name(arguments)`, `← outcome: result` (cut to a line); from piped input, a call
 * that needs approval is refused (nobody can answer) and says so.
 */
function printToolFrame(frame: ToolFrame, interactive: boolean): void {
  if (frame.type === "tool-call") printDim(`→ ${frame.call.name}(${oneLine(frame.call.arguments)})`);
  else if (frame.type === "tool-result") printDim(`← ${frame.outcome}: ${oneLine(frame.content)}`);
  else if (!interactive) printDim(`${frame.call.name} needs approval: refused (stdin is not a terminal)`);
}

/** A text cut to 160 characters, its whitespace runs made single spaces. */
function oneLine(text: string): string {
  return (text.length > 160 ? `${text.slice(0, 160)}…` : text).replace(/\s+/g, " ");
}

/** Asks at the prompt whether a tool call may run; anything but y/yes refuses it. */
async function askApproval(input: LineInput, frame: Extract<ToolFrame, { type: "tool-approval" }>): Promise<boolean> {
  const line = await input.next(`Allow ${frame.call.name}(${oneLine(frame.call.arguments)})? [y/N] `);
  return line !== undefined && /^\s*y(es)?\s*$/i.test(line);
}

function printDim(text: string): void {
  process.stderr.write(process.stderr.isTTY ? `\x1b[2m${text}\x1b[0m\n` : `${text}\n`);
}

function printError(error: unknown): void {
  const code = error instanceof ChatClientError ? error.code : "internal";
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`error [${code}]: ${message}\n`);
}

/** Lines from stdin as an async queue: a readline prompt on a terminal, plain lines from a pipe or file. */
class LineInput {
  private readonly lines: string[] = [];
  private ended = false;
  private waiting: ((line: string | undefined) => void) | undefined;
  private readonly reader: readline.Interface;
  private interruptHandler: (() => void) | undefined;
  private readonly onSignal = (): void => this.interruptHandler?.();
  /** A prompt is on screen, waiting for a line. */
  private prompting = false;

  constructor(private readonly interactive: boolean) {
    this.reader = readline.createInterface({
      input: process.stdin,
      output: interactive ? process.stdout : undefined,
      terminal: interactive,
      prompt: "> ",
    });
    this.reader.on("line", (line) => this.push(line));
    this.reader.on("close", () => this.finish());
    // On a terminal readline owns Ctrl-C (raw mode); from a pipe, or once readline closed on Ctrl-D, it is a process signal.
    this.reader.on("SIGINT", this.onSignal);
    process.on("SIGINT", this.onSignal);
  }

  onInterrupt(handler: () => void): void {
    this.interruptHandler = handler;
  }

  /** Text has been typed at the prompt (or during an answer) and not yet entered. */
  get typing(): boolean {
    return this.interactive && !this.ended && this.reader.line.length > 0;
  }

  /** Drops the typed text and moves to a fresh line, showing `note` above the new prompt if given. */
  discardLine(note?: string): void {
    if (!this.interactive || this.ended) return;
    // readline's own clearLine (what the Node.js REPL calls on Ctrl-C): to the end of the line, a newline, line emptied.
    const reader = this.reader as readline.Interface & { clearLine?: () => void };
    if (typeof reader.clearLine === "function") {
      reader.clearLine();
    } else {
      reader.write(null, { ctrl: true, name: "e" });
      reader.write(null, { ctrl: true, name: "u" });
      process.stdout.write("\n");
    }
    if (note) printDim(note);
    if (this.prompting) this.reader.prompt();
  }

  /** The next line, or undefined once input has ended and every queued line was taken; `question` replaces the "> " prompt once. */
  next(question?: string): Promise<string | undefined> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.ended) return Promise.resolve(undefined);
    if (this.interactive) {
      this.reader.setPrompt(question ?? "> ");
      this.reader.prompt();
    }
    this.prompting = true;
    return new Promise((resolve) => (this.waiting = resolve));
  }

  /** Stops reading: queued lines are dropped and a waiting next() gets undefined. */
  stop(): void {
    this.lines.length = 0;
    process.off("SIGINT", this.onSignal);
    this.reader.close();
    this.finish();
  }

  private push(line: string): void {
    if (this.ended) return;
    this.prompting = false;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve(line);
    } else {
      this.lines.push(line);
    }
  }

  private finish(): void {
    this.ended = true;
    const resolve = this.waiting;
    this.waiting = undefined;
    resolve?.(undefined);
  }
}

function parsePositiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new InvalidArgumentError("expected a positive integer");
  return number;
}

/** `--tool-choice`: auto, none or required as they are; any other value names the one tool to call. */
export function parseToolChoice(value: string): ChatToolChoice {
  if (value === "auto" || value === "none" || value === "required") return value;
  if (!toolNamePattern.test(value)) throw new InvalidArgumentError('expected auto, none, required or a tool name (1 to 64 letters, digits, "_", "." or "-")');
  return { type: "function", function: { name: value } };
}

function parseAgent(value: string): string {
  if (value.length === 0 || value.length > 128) throw new InvalidArgumentError("expected an agent name (1 to 128 characters)");
  return value;
}

function parseTemperature(value: string): number {
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number) || number < 0 || number > 2) throw new InvalidArgumentError("expected a number from 0 to 2");
  return number;
}
