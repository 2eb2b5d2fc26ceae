// A fetch over node:https with our own CA and client certificate, for the official openai client (its `fetch` option).
import https from "node:https";
import { Readable } from "node:stream";

export function httpsFetch(tls: { ca: string; cert?: string; key?: string }): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input);
    const headers = new Headers(init?.headers);
    const body = init?.body === undefined || init.body === null ? undefined : String(init.body);
    return new Promise<Response>((resolve, reject) => {
      const request = https.request(url, { method: init?.method ?? "GET", headers: Object.fromEntries(headers), ...tls }, (response) => {
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(response.headers)) if (value !== undefined) responseHeaders.set(name, String(value));
        const stream = Readable.toWeb(response) as ReadableStream<Uint8Array>;
        resolve(new Response(response.statusCode === 204 ? null : stream, { status: response.statusCode ?? 500, headers: responseHeaders }));
      });
      request.on("error", reject);
      init?.signal?.addEventListener("abort", () => request.destroy(new Error("aborted")));
      request.end(body);
    });
  }) as typeof fetch;
}
