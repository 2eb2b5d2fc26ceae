// The three ways the throughput benchmark drives one generation: the engine directly, WebSocket, and HTTP SSE.
import WebSocket from "ws";
import type { LanguageModel } from "../src/engine/language-model.js";

export type ModeName = "engine" | "websocket" | "http-sse";

export interface StreamOutcome {
  text: string;
  completionTokens: number;
  /** Client-side milliseconds from issuing the request to the first non-empty text delta. */
  ttftMs: number;
  totalMs: number;
  /** Prompt tokens the engine found already evaluated in the sequence (engine mode only). */
  cachedPromptTokens?: number;
}

export interface StreamDriver {
  readonly mode: ModeName;
  /** Runs one greedy generation of `prompt`; `slot` picks the client connection (one per concurrent stream). */
  stream(prompt: string, slot: number): Promise<StreamOutcome>;
  close(): Promise<void>;
}

export interface GenerationSettings {
  maxTokens: number;
  temperature: number;
}

/**
 * (a) The engine called in-process, as the pipeline calls it, with no gateway in between. With `conversationPerSlot`,
 * each slot's requests carry a conversation key of their own (as a session's turns do), so the engine hands a slot's
 * request back the sequence that slot used last.
 */
export function engineDriver(engine: LanguageModel, settings: GenerationSettings, options: { conversationPerSlot?: boolean } = {}): StreamDriver {
  return {
    mode: "engine",
    async stream(prompt, slot) {
      const startedAt = performance.now();
      let firstAt: number | undefined;
      let text = "";
      const request = {
        messages: [{ role: "user" as const, content: prompt }],
        params: { maxTokens: settings.maxTokens, temperature: settings.temperature },
        ...(options.conversationPerSlot ? { conversation: `bench-slot-${slot}` } : {}),
      };
      for await (const part of engine.stream(request)) {
        if (part.type === "text-delta") {
          if (part.text.length > 0) firstAt ??= performance.now();
          text += part.text;
        } else if (part.type === "finish") {
          const finishedAt = performance.now();
          return {
            text,
            completionTokens: part.usage.completionTokens,
            ttftMs: (firstAt ?? finishedAt) - startedAt,
            totalMs: finishedAt - startedAt,
            cachedPromptTokens: part.usage.cachedPromptTokens,
          };
        }
      }
      throw new Error("The engine stream ended without a finish part");
    },
    close: async () => {},
  };
}

interface PendingWebsocketStream {
  startedAt: number;
  firstAt: number | undefined;
  text: string;
  resolve(outcome: StreamOutcome): void;
  reject(error: Error): void;
}

/** (b) A real `ws` client per concurrent stream, speaking the Clawbot frame protocol. */
export async function websocketDriver(url: string, token: string, connections: number, settings: GenerationSettings): Promise<StreamDriver> {
  const sockets = await Promise.all(Array.from({ length: connections }, () => openSocket(url, token)));
  const pending = new Map<string, PendingWebsocketStream>();
  let nextId = 0;
  for (const socket of sockets) {
    socket.on("message", (data) => {
      const frame = JSON.parse(String(data)) as { type: string; id?: string; text?: string; message?: string; usage?: { completion_tokens: number } };
      const request = frame.id === undefined ? undefined : pending.get(frame.id);
      if (!request) return;
      if (frame.type === "text-delta") {
        if (frame.text) request.firstAt ??= performance.now();
        request.text += frame.text ?? "";
      } else if (frame.type === "finish") {
        const finishedAt = performance.now();
        pending.delete(frame.id as string);
        request.resolve({
          text: request.text,
          completionTokens: frame.usage?.completion_tokens ?? 0,
          ttftMs: (request.firstAt ?? finishedAt) - request.startedAt,
          totalMs: finishedAt - request.startedAt,
        });
      } else if (frame.type === "error") {
        pending.delete(frame.id as string);
        request.reject(new Error(`WebSocket error frame: ${frame.message ?? JSON.stringify(frame)}`));
      }
    });
  }
  return {
    mode: "websocket",
    stream(prompt, slot) {
      const socket = sockets[slot % sockets.length] as WebSocket;
      const id = `bench-${nextId++}`;
      return new Promise<StreamOutcome>((resolve, reject) => {
        pending.set(id, { startedAt: performance.now(), firstAt: undefined, text: "", resolve, reject });
        socket.send(JSON.stringify({ type: "chat", id, message: prompt, params: { max_tokens: settings.maxTokens, temperature: settings.temperature } }));
      });
    },
    close: async () => {
      await Promise.all(sockets.map((socket) => closeSocket(socket)));
    },
  };
}

export function openSocket(url: string, token: string): Promise<WebSocket> {
  const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
  return new Promise<WebSocket>((resolve, reject) => {
    socket.once("open", () => resolve(socket));
    socket.once("error", reject);
    socket.once("unexpected-response", (_request, response) => reject(new Error(`WebSocket upgrade refused: HTTP ${response.statusCode}`)));
  });
}

export function closeSocket(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise<void>((resolve) => {
    socket.once("close", () => resolve());
    socket.close();
  });
}

/** (c) `fetch` against the OpenAI-compatible endpoint with `stream: true`, parsing the server-sent events. */
export function httpSseDriver(baseUrl: string, token: string, settings: GenerationSettings): StreamDriver {
  const url = `${baseUrl}/v1/chat/completions`;
  return {
    mode: "http-sse",
    async stream(prompt) {
      const startedAt = performance.now();
      const response = await fetch(url, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "text/event-stream" },
        // No `model`: both Clawbot and llama-server then answer with the model they serve.
        body: JSON.stringify({
          messages: [{ role: "user", content: prompt }],
          stream: true,
          max_tokens: settings.maxTokens,
          temperature: settings.temperature,
        }),
      });
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
      let firstAt: number | undefined;
      let text = "";
      let completionTokens: number | undefined;
      let buffer = "";
      const decoder = new TextDecoder();
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let boundary: number;
        while ((boundary = buffer.indexOf("\n\n")) >= 0) {
          const event = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          for (const line of event.split("\n")) {
            if (!line.startsWith("data:")) continue;
            const data = line.slice(5).trim();
            if (data === "[DONE]") continue;
            const payload = JSON.parse(data) as {
              choices?: { delta?: { content?: string } }[];
              usage?: { completion_tokens: number };
              error?: { message?: string };
            };
            if (payload.error) throw new Error(`HTTP SSE error event: ${payload.error.message ?? data}`);
            const content = payload.choices?.[0]?.delta?.content;
            if (content) {
              firstAt ??= performance.now();
              text += content;
            }
            if (payload.usage) completionTokens = payload.usage.completion_tokens;
          }
        }
      }
      const finishedAt = performance.now();
      if (completionTokens === undefined) throw new Error("The SSE stream ended without usage");
      return { text, completionTokens, ttftMs: (firstAt ?? finishedAt) - startedAt, totalMs: finishedAt - startedAt };
    },
    close: async () => {},
  };
}

/** Rejects when `promise` has not settled within `milliseconds`, so a lost reply cannot hang the benchmark. */
export function withTimeout<T>(promise: Promise<T>, milliseconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${milliseconds / 1000} s`)), milliseconds);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
