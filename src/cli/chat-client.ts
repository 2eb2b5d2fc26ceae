// A small client for the Clawbot WebSocket protocol: connect with a bearer token, ask, stream deltas, cancel.
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import WebSocket from "ws";
import { errorTable } from "../core/errors.js";
import { SmLinkClient, type SmRecordLayer } from "../security/gm/sm-link.js";

/** Which tool the model may or must call (docs/protocol.md#tools): OpenAI's values, or `{name}` for one tool. */
export type ChatToolChoice = "auto" | "none" | "required" | { type: "function"; function: { name: string } } | { name: string };

/** Settings sent with a chat frame, in the protocol's snake_case: sampling, the tool choice and the agent. */
export interface ChatParams {
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  seed?: number;
  stop?: string | string[];
  tool_choice?: ChatToolChoice;
  /** The node's agent to run as (`default` when absent). */
  agent?: string;
}

export interface FinishFrame {
  type: "finish";
  id: string;
  text: string;
  finish_reason: "stop" | "length" | "cancelled" | "tool_calls";
  usage: { prompt_tokens: number; completion_tokens: number };
  timings: { queue_ms: number; ttft_ms: number; total_ms: number };
  /** The knowledge-base sources the answer was given (docs/knowledge.md), when the turn had any. */
  citations?: { index: number; doc_id: string; collection: string; source: string; chunk: number; score: number }[];
}

/** A node-side tool step of an answer (docs/protocol.md#tools): a call, its result, or a call waiting for approval. */
export type ToolFrame =
  | { type: "tool-call"; id: string; call: { id: string; name: string; arguments: string } }
  | { type: "tool-result"; id: string; call_id: string; name: string; outcome: string; content: string; duration_ms: number }
  | { type: "tool-approval"; id: string; call: { id: string; name: string; arguments: string }; timeout_ms: number };

/** A cluster's worker was lost and another one starts the answer again (docs/protocol.md): the text since the last tool step is void. */
export interface RestartFrame {
  type: "restart";
  id: string;
  reason: string;
  attempt: number;
}

/** A failure seen by the client: a protocol code from the server (`unauthorized`, `overloaded`, …) or a client-side one. */
export class ChatClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ChatClientError";
  }
}

export interface ChatClientOptions {
  /** Session id sent with every chat, so the server keeps the conversation; a random one when left out. */
  session?: string;
  /** Milliseconds to wait for the WebSocket handshake. */
  connectTimeoutMs?: number;
  /** Called once when the connection ends without close() being called (server shut down, token rejected, …). */
  onClose?: (error: ChatClientError) => void;
  /**
   * Use the encrypted link (`encryption: {type: sm}` on the gateway): SM2 handshake, then SM4-GCM sealed frames; the
   * token goes in a sealed auth frame, never in the upgrade request. `serverKey` pins the server's SM2 public key.
   */
  sm?: { serverKey?: string };
  /** Told of each tool call and result of an answer. */
  onTool?: (frame: ToolFrame) => void;
  /** Told when the answer starts again (the text since the last tool step was void; the new text follows). */
  onRestart?: (frame: RestartFrame) => void;
  /** Decides on a tool call that needs the user's approval; without it every such call is refused. */
  approve?: (frame: Extract<ToolFrame, { type: "tool-approval" }>) => Promise<boolean>;
}

interface PendingRequest {
  text: string;
  /** Where the generation in progress began in `text` (a restart cuts it back to there). */
  generationStart: number;
  cancelled: boolean;
  onDelta: (text: string) => void;
  resolve: (frame: FinishFrame) => void;
  reject: (error: Error) => void;
}

export class ChatClient {
  readonly session: string;
  private socket: WebSocket | undefined;
  private readonly pending = new Map<string, PendingRequest>();
  private nextId = 1;
  private closedByUs = false;
  private closeError: ChatClientError | undefined;
  /** The encrypted link's records once its handshake is done. */
  private records: SmRecordLayer | undefined;
  private link: SmLinkClient | undefined;
  /** The server's SM2 public key seen in the handshake (to show, or pin next time). */
  serverKey: string | undefined;

  constructor(private readonly options: ChatClientOptions = {}) {
    this.session = options.session ?? randomUUID();
  }

  /** Opens the connection; rejects with a ChatClientError (`unauthorized`, `connection_refused`, …) when it cannot. */
  connect(url: string, token?: string): Promise<void> {
    if (this.socket) return Promise.reject(new ChatClientError("bad_request", "The client is already connected."));
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let opened = false;
      const fail = (error: ChatClientError) => {
        if (settled) return;
        settled = true;
        this.closeError = error;
        reject(error);
      };
      let socket: WebSocket;
      try {
        socket = new WebSocket(url, {
          headers: token && !this.options.sm ? { authorization: `Bearer ${token}` } : {},
          handshakeTimeout: this.options.connectTimeoutMs ?? 10_000,
        });
      } catch (error) {
        fail(new ChatClientError("bad_request", `Invalid URL ${url}: ${(error as Error).message}`, { cause: error }));
        return;
      }
      this.socket = socket;
      socket.on("unexpected-response", (_request, response) => {
        void readRejection(response).then((error) => {
          fail(error);
          socket.terminate();
        });
      });
      socket.on("error", (error) => fail(connectError(url, error)));
      const ready = () => {
        opened = true;
        settled = true;
        resolve();
      };
      socket.on("open", () => {
        if (!this.options.sm) return ready();
        this.link = new SmLinkClient(this.options.sm.serverKey);
        socket.send(JSON.stringify(this.link.hello));
      });
      socket.on("message", (data, binary) => {
        const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
        if (!this.link) return this.receive(bytes.toString());
        const text = this.openLink(bytes, binary, socket);
        if (text === undefined) return;
        if (text === null) {
          if (token) this.send({ type: "auth", token });
          return ready();
        }
        this.receive(text);
      });
      socket.on("close", (code, reason) => {
        const error = closeError(code, reason.toString());
        fail(error);
        this.closeError ??= error;
        this.rejectAll(this.closeError);
        if (opened && !this.closedByUs) this.options.onClose?.(this.closeError);
      });
    });
  }

  /** Sends one chat and streams its text to onDelta; resolves with the finish frame, rejects with the server's error code. */
  ask(message: string, params: ChatParams = {}, onDelta: (text: string) => void = () => {}): Promise<FinishFrame> {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(this.closeError ?? new ChatClientError("connection_closed", "Not connected."));
    }
    const id = `r${this.nextId++}`;
    return new Promise<FinishFrame>((resolve, reject) => {
      this.pending.set(id, { text: "", generationStart: 0, cancelled: false, onDelta, resolve, reject });
      const frame = { type: "chat", id, session: this.session, message, ...(hasKeys(params) ? { params } : {}) };
      socket.send(this.encode(frame), (error) => {
        if (error) this.settle(id, new ChatClientError("connection_closed", `Could not send: ${error.message}`, { cause: error }));
      });
    });
  }

  /** Cancels every answer in flight; each one still resolves, with finish_reason "cancelled". */
  cancel(): void {
    for (const [id, request] of this.pending) {
      if (request.cancelled) continue;
      request.cancelled = true;
      this.send({ type: "cancel", id });
    }
  }

  /** True while an answer is streaming. */
  get busy(): boolean {
    return this.pending.size > 0;
  }

  /** Closes the connection (answers in flight are rejected); resolves once the socket is closed. */
  close(): Promise<void> {
    this.closedByUs = true;
    this.closeError ??= new ChatClientError("connection_closed", "The connection was closed.");
    this.rejectAll(this.closeError);
    const socket = this.socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => socket.terminate(), 1000);
      socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      if (socket.readyState === WebSocket.OPEN) socket.close(1000, "bye");
      else if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
    });
  }

  private receive(text: string): void {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    const id = typeof frame.id === "string" ? frame.id : null;
    const request = id === null ? undefined : this.pending.get(id);
    if (frame.type === "error") {
      const error = new ChatClientError(String(frame.code ?? "internal"), String(frame.message ?? "Unknown error."));
      if (id === null) this.rejectAll(error);
      else this.settle(id, error);
      return;
    }
    if (!request || id === null) return;
    if (frame.type === "text-delta" && typeof frame.text === "string") {
      request.text += frame.text;
      request.onDelta(frame.text);
    } else if (frame.type === "tool-call" || frame.type === "tool-result") {
      if (frame.type === "tool-result") request.generationStart = request.text.length;
      this.options.onTool?.(frame as unknown as ToolFrame);
    } else if (frame.type === "restart") {
      request.text = request.text.slice(0, request.generationStart);
      this.options.onRestart?.({ type: "restart", id, reason: String(frame.reason), attempt: Number(frame.attempt) });
    } else if (frame.type === "tool-approval") {
      const asked = frame as unknown as Extract<ToolFrame, { type: "tool-approval" }>;
      this.options.onTool?.(asked);
      const decide = this.options.approve ? this.options.approve(asked).catch(() => false) : Promise.resolve(false);
      void decide.then((approved) => this.send({ type: "tool.approve", id, call_id: asked.call.id, approved }));
    } else if (frame.type === "finish") {
      this.settle(id, frame as unknown as FinishFrame);
    }
  }

  /** Ends one request: a finish resolves it; a `cancelled` error after our cancel becomes a cancelled finish. */
  private settle(id: string, outcome: FinishFrame | ChatClientError): void {
    const request = this.pending.get(id);
    if (!request) return;
    this.pending.delete(id);
    if (!(outcome instanceof ChatClientError)) return request.resolve(outcome);
    if (outcome.code === "cancelled" && request.cancelled) return request.resolve(cancelledFinish(id, request.text));
    request.reject(outcome);
  }

  private rejectAll(error: ChatClientError): void {
    for (const id of [...this.pending.keys()]) this.settle(id, error);
  }

  private send(frame: Record<string, unknown>): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(this.encode(frame));
  }

  private encode(frame: Record<string, unknown>): string | Buffer {
    return this.records ? this.records.seal(JSON.stringify(frame)) : JSON.stringify(frame);
  }

  /**
   * One message on the encrypted link: the server hello (null: the link is up), a sealed frame's text, or undefined
   * when it was refused: a bad handshake, the wrong server key or a record that fails authentication closes with 4460.
   */
  private openLink(bytes: Buffer, binary: boolean, socket: WebSocket): string | null | undefined {
    try {
      if (this.records) return this.records.open(bytes);
      if (!binary && /"type":"error"/.test(bytes.toString())) return bytes.toString();
      const finished = (this.link as SmLinkClient).finish(bytes.toString());
      this.records = finished.records;
      this.serverKey = finished.serverKey;
      return null;
    } catch (error) {
      const code = errorTable.secure_link_failed.closeCode;
      this.closeError = new ChatClientError("secure_link_failed", (error as Error).message, { cause: error });
      socket.close(code, "secure link failed");
      return undefined;
    }
  }
}

/** The stats line's numbers for a finish: completion tokens, decode speed and time to first token. */
export function finishStats(frame: FinishFrame): { tokens: number; tokensPerSecond: number | undefined; ttftMs: number } {
  const tokens = frame.usage?.completion_tokens ?? 0;
  const totalMs = frame.timings?.total_ms ?? 0;
  const ttftMs = frame.timings?.ttft_ms ?? 0;
  const decodeMs = totalMs - ttftMs;
  let tokensPerSecond: number | undefined;
  if (tokens > 1 && decodeMs > 0) tokensPerSecond = ((tokens - 1) * 1000) / decodeMs;
  else if (tokens > 0 && totalMs > 0) tokensPerSecond = (tokens * 1000) / totalMs;
  return { tokens, tokensPerSecond, ttftMs };
}

function cancelledFinish(id: string, text: string): FinishFrame {
  return {
    type: "finish",
    id,
    text,
    finish_reason: "cancelled",
    usage: { prompt_tokens: 0, completion_tokens: 0 },
    timings: { queue_ms: 0, ttft_ms: 0, total_ms: 0 },
  };
}

function hasKeys(params: ChatParams): boolean {
  return Object.values(params).some((value) => value !== undefined);
}

/** Turns an HTTP answer to the upgrade (401, 404, …) into an error, using the server's JSON body when it has one. */
async function readRejection(response: IncomingMessage): Promise<ChatClientError> {
  const status = response.statusCode ?? 0;
  let body = "";
  try {
    response.setEncoding("utf8");
    for await (const chunk of response) {
      body += chunk as string;
      if (body.length > 4096) break;
    }
  } catch {
    // The body is only a nicety; the status alone is enough.
  }
  let code = codeForStatus(status);
  let detail = response.statusMessage ?? "";
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    if (typeof parsed.error?.code === "string") code = parsed.error.code;
    if (typeof parsed.error?.message === "string") detail = parsed.error.message;
  } catch {
    if (body.trim()) detail = body.trim().slice(0, 200);
  }
  const lead = status === 401 ? "The server rejected the token" : "The server refused the connection";
  return new ChatClientError(code, `${lead} (HTTP ${status}${detail ? `: ${detail}` : ""}).`);
}

function codeForStatus(status: number): string {
  const entry = Object.entries(errorTable).find(([, value]) => value.status === status);
  return entry ? entry[0] : "http_error";
}

function connectError(url: string, error: Error): ChatClientError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ECONNREFUSED") return new ChatClientError("connection_refused", `Cannot connect to ${url}: connection refused (is clawbot running?).`, { cause: error });
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return new ChatClientError("connection_failed", `Cannot connect to ${url}: host not found.`, { cause: error });
  return new ChatClientError("connection_failed", `Cannot connect to ${url}: ${error.message}`, { cause: error });
}

/** The error for a closed connection: close codes map back to protocol codes (4401 → unauthorized, 1013 → unavailable). */
function closeError(code: number, reason: string): ChatClientError {
  const entry = Object.entries(errorTable).find(([, value]) => value.closeCode === code);
  const mapped = entry?.[0] ?? (code === 1001 ? "unavailable" : "connection_closed");
  const detail = reason ? `: ${reason}` : "";
  return new ChatClientError(mapped, `The connection was closed (code ${code}${detail}).`);
}
