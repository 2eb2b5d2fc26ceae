// The metrics listener: GET/HEAD on its path only, the bearer token, coded errors, and a clear message for a port in use.
import http from "node:http";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { isErrorCode } from "../core/errors.js";
import type { Logger } from "../logging/logger.js";
import { silentLogger } from "../logging/logger.js";
import { MetricsListener, type MetricsListenerOptions } from "./metrics-listener.js";

const exposition = async () => ({ body: "clawbot_up 1\n", contentType: "text/plain; version=0.0.4; charset=utf-8" });
const opened: MetricsListener[] = [];

async function open(options: Partial<MetricsListenerOptions> = {}): Promise<MetricsListener> {
  const listener = await MetricsListener.open({ host: "127.0.0.1", port: 0, path: "/metrics", exposition, logger: silentLogger, ...options });
  opened.push(listener);
  return listener;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request({ host: "127.0.0.1", port, method, path, headers, agent: false }, (response) => {
      let body = "";
      response.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    outgoing.on("error", reject);
    outgoing.end();
  });
}

const codeOf = (answer: Answer) => (JSON.parse(answer.body) as { error: { code: string } }).error.code;

afterEach(async () => {
  await Promise.all(opened.splice(0).map((listener) => listener.close()));
});

describe("MetricsListener", () => {
  it("serves the exposition on GET with the registry's content type, and only headers on HEAD", async () => {
    const { port } = await open();
    expect(port).toBeGreaterThan(0);
    const answer = await request(port, "GET", "/metrics?name[]=x");
    expect(answer).toMatchObject({ status: 200, body: "clawbot_up 1\n" });
    expect(answer.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
    const head = await request(port, "HEAD", "/metrics");
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
    expect(head.headers["content-length"]).toBe(String(Buffer.byteLength("clawbot_up 1\n")));
  });

  it("answers 404 not_found elsewhere and 405 method_not_allowed with Allow for other methods, as coded JSON errors", async () => {
    const { port } = await open({ path: "/custom/metrics" });
    for (const path of ["/", "/metrics", "/custom/metrics/", "/custom/metricsx", "/CUSTOM/METRICS"]) {
      const answer = await request(port, "GET", path);
      expect(answer.status, path).toBe(404);
      expect(codeOf(answer)).toBe("not_found");
    }
    for (const method of ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"]) {
      const answer = await request(port, method, "/custom/metrics");
      expect(answer.status, method).toBe(405);
      expect(answer.headers.allow).toBe("GET, HEAD");
      expect(isErrorCode(codeOf(answer))).toBe(true);
    }
    expect((await request(port, "GET", "/custom/metrics")).status).toBe(200);
  });

  it("with a token, refuses scrapes without it (401, WWW-Authenticate) and serves those that send it", async () => {
    const token = "metrics-token-0123456789abcdef";
    const { port } = await open({ token });
    const refusals: Record<string, string>[] = [{}, { authorization: "Bearer wrong-token-0123456789abcdef" }, { authorization: `Basic ${token}` }, { authorization: `Bearer ${token}x` }, { authorization: "Bearer" }, { authorization: `Bearer ${token.slice(0, -1)}` }];
    for (const headers of refusals) {
      const answer = await request(port, "GET", "/metrics", headers);
      expect(answer.status, JSON.stringify(headers)).toBe(401);
      expect(answer.headers["www-authenticate"]).toMatch(/^Bearer realm=/);
      expect(codeOf(answer)).toBe("unauthorized");
      expect(answer.body).not.toContain("clawbot_up");
    }
    expect((await request(port, "GET", "/metrics", { authorization: `Bearer ${token}` })).body).toBe("clawbot_up 1\n");
    expect((await request(port, "GET", "/metrics", { authorization: `bearer ${token}` })).status).toBe(200);
    expect((await request(port, "HEAD", "/metrics", { authorization: `Bearer ${token}` })).status).toBe(200);
  });

  it("answers 500 internal when collecting fails, and keeps serving", async () => {
    let fail = true;
    const { port } = await open({ exposition: async () => (fail ? Promise.reject(new Error("collector broke")) : exposition()) });
    const answer = await request(port, "GET", "/metrics");
    expect(answer.status).toBe(500);
    expect(codeOf(answer)).toBe("internal");
    fail = false;
    expect((await request(port, "GET", "/metrics")).status).toBe(200);
  });

  it("fails to start on a port in use, naming metrics.port, CLAWBOT_METRICS_PORT and how to turn it off", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const failure = await open({ port }).then(
        () => undefined,
        (error: unknown) => error as Error,
      );
      expect(failure?.message).toContain(`metrics.port ${port} is in use`);
      expect(failure?.message).toContain("CLAWBOT_METRICS_PORT");
      expect(failure?.message).toContain("metrics: {enabled: false}");
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it("warns when it listens beyond loopback without a token, and not with one", async () => {
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (message: string) => warnings.push(message), info: () => {}, error: () => {} } as unknown as Logger;
    await open({ host: "0.0.0.0", logger });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("without a token");
    await open({ host: "0.0.0.0", logger, token: "metrics-token-0123456789abcdef" });
    await open({ logger });
    expect(warnings).toHaveLength(1);
  });

  it("stops listening on close", async () => {
    const listener = await MetricsListener.open({ host: "127.0.0.1", port: 0, path: "/metrics", exposition, logger: silentLogger });
    await listener.close();
    await expect(request(listener.port, "GET", "/metrics")).rejects.toThrow(/ECONNREFUSED/);
  });
});
