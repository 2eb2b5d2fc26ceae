// TLS on the websocket/http port (wss, https) with a test CA made by openssl; mTLS subjects; start errors for bad certificate files.
import https from "node:https";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import Database from "better-sqlite3";
import OpenAI from "openai";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ignoredGatewayEvents, type GatewayEvents } from "../src/gateways/gateway-events.js";
import { HttpListeners, type ListenerConfig } from "../src/gateways/http-listeners.js";
import { silentLogger } from "../src/logging/logger.js";
import { databaseFileName } from "../src/store/database.js";
import { httpsFetch } from "./helpers/https-fetch.js";
import { makeTestPki, type TestPki } from "./helpers/test-ca.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});
afterAll(() => pki?.remove());

const tlsBlock = (overrides: Record<string, unknown> = {}) => ({ cert: pki.files.serverCert, key: pki.files.serverKey, ...overrides });

/** Starts an echo node whose websocket and http gateways share one TLS port. */
async function startTlsNode(block: Record<string, unknown>, refusedCredentials: string[] = []): Promise<TestNode & { port: number }> {
  const events = (): GatewayEvents => ({ ...ignoredGatewayEvents, authFailed: (_code, reason) => refusedCredentials.push(reason) });
  const node = await startTestNode({ agent: { engine: "echo" }, baseDir: pki.directory, websocket: { tls: block }, http: { tls: block }, observe: { events } });
  return { ...node, port: Number(new URL(node.httpUrl).port) };
}

/** GET /v1/models over https: the status, or the error that ended the connection. */
function httpsStatus(port: number, options: { token?: string; cert?: string; key?: string } = {}): Promise<number | string> {
  return new Promise((resolve) => {
    const request = https.get(
      { host: "127.0.0.1", port, path: "/v1/models", ca: pki.ca, cert: options.cert, key: options.key, headers: options.token ? { authorization: `Bearer ${options.token}` } : {} },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** Opens a wss connection and runs one chat on it; resolves with the frame that ended it (finish or error). */
async function wssChat(port: number, options: { token?: string; cert?: string; key?: string }, message: string): Promise<{ type: string }> {
  const socket = new WebSocket(`wss://127.0.0.1:${port}/`, { ca: pki.ca, cert: options.cert, key: options.key, headers: options.token ? { authorization: `Bearer ${options.token}` } : {} });
  try {
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
    const ended = new Promise<{ type: string }>((resolve) =>
      socket.on("message", (data) => {
        const frame = JSON.parse(String(data)) as { type: string };
        if (frame.type === "finish" || frame.type === "error") resolve(frame);
      }),
    );
    socket.send(JSON.stringify({ type: "chat", id: "c1", message, params: { max_tokens: 10 } }));
    return await ended;
  } finally {
    socket.close();
  }
}

function requestSubjects(dataDir: string): unknown[] {
  const database = new Database(path.join(dataDir, databaseFileName), { readonly: true });
  try {
    const rows = database.prepare("SELECT body FROM audit_records WHERE kind = 'request' ORDER BY sequence").all() as { body: string }[];
    return rows.map((row) => (JSON.parse(row.body) as { subject?: unknown }).subject);
  } finally {
    database.close();
  }
}

describe("wss and https with a certificate from a test CA", () => {
  let node: TestNode & { port: number };
  beforeAll(async () => {
    node = await startTlsNode(tlsBlock({ ca: pki.files.ca, client_certificates: "optional", client_roles: { alice: ["user"] } }));
  });
  afterAll(() => node?.close());

  it("serves the official openai client over https", async () => {
    const openai = new OpenAI({ baseURL: `https://127.0.0.1:${node.port}/v1`, apiKey: await node.token("bob"), maxRetries: 0, fetch: httpsFetch({ ca: pki.ca }) });
    const completion = await openai.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "hello over tls" }], max_tokens: 40 });
    expect(completion.choices[0]?.message.content).toContain("hello over tls");
    expect(node.daemon.gateways.map((gateway) => gateway.name).join(" ")).toMatch(/wss:\/\/.*https:\/\//);
  });

  it("serves ws over wss, and refuses a client that does not trust the server's CA", async () => {
    expect(await wssChat(node.port, { token: await node.token("bob") }, "over wss")).toMatchObject({ type: "finish" });
    expect(requestSubjects(node.dataDir)).toContain("bob");
    const untrusting = new WebSocket(`wss://127.0.0.1:${node.port}/`);
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => untrusting.once("error", resolve));
    expect(error.code).toMatch(/SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
  });

  it("drops a plain-HTTP request to the TLS port and keeps serving", async () => {
    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect(node.port, "127.0.0.1", () => socket.write("GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n"));
      let received = "";
      socket.on("data", (chunk) => (received += chunk.toString("latin1")));
      socket.on("close", () => resolve(received));
      socket.on("error", () => undefined);
    });
    expect(answer).not.toContain("HTTP/1.1 200");
    expect(await httpsStatus(node.port, { token: await node.token() })).toBe(200);
  });

  it("takes a verified client certificate as the subject when no token is sent (optional)", async () => {
    expect(await httpsStatus(node.port)).toBe(401);
    const alice = pki.client("alice");
    const openai = new OpenAI({ baseURL: `https://127.0.0.1:${node.port}/v1`, apiKey: "unused", maxRetries: 0, fetch: httpsFetch({ ca: pki.ca, ...alice }) });
    // The openai client always sends a bearer header; a client without one is authenticated by its certificate.
    const withoutBearer: typeof fetch = (input, init) => {
      const headers = new Headers(init?.headers);
      headers.delete("authorization");
      return httpsFetch({ ca: pki.ca, ...alice })(input, { ...init, headers });
    };
    const certified = new OpenAI({ baseURL: `https://127.0.0.1:${node.port}/v1`, apiKey: "unused", maxRetries: 0, fetch: withoutBearer });
    await certified.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "certified" }], max_tokens: 10 });
    expect(requestSubjects(node.dataDir)).toContain("alice");
    // A bearer token, when sent, is what authenticates (here: an invalid one is refused even with a good certificate).
    await expect(openai.models.list()).rejects.toMatchObject({ status: 401 });
    expect(await wssChat(node.port, alice, "certified over wss")).toMatchObject({ type: "finish" });
    expect(requestSubjects(node.dataDir).filter((subject) => subject === "alice")).toHaveLength(2);
  });

  it("closes a connection whose certificate another CA signed (optional)", async () => {
    expect(await httpsStatus(node.port, { ...pki.client("mallory"), token: await node.token() })).toMatch(/ECONNRESET|EPIPE|socket hang up/);
  });
});

describe("mTLS with client_certificates: require", () => {
  let node: TestNode & { port: number };
  const refusedCredentials: string[] = [];
  beforeAll(async () => {
    node = await startTlsNode(tlsBlock({ ca: pki.files.ca, client_certificates: "require", subject_from: "san_email" }), refusedCredentials);
  });
  afterAll(() => node?.close());

  it("refuses a client without a certificate, and one from another CA, in the handshake", async () => {
    // An error code instead of an HTTP status: the connection ended before any request was answered.
    expect(await httpsStatus(node.port, { token: await node.token() })).toEqual(expect.any(String));
    expect(await httpsStatus(node.port, { ...pki.client("mallory"), token: await node.token() })).toEqual(expect.any(String));
    // The missing certificate is a refused credential (metrics count it, the audit ledger records it). Over TLS 1.3 the
    // other CA's certificate is refused after the client's Finished, which node reports only as a reset.
    expect(refusedCredentials).toContainEqual(expect.stringMatching(/^client certificate refused: ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE/));
  });

  it("maps a good certificate to its subject (san_email), seen in the audit record", async () => {
    expect(await httpsStatus(node.port, pki.client("alice"))).toBe(200);
    expect(await wssChat(node.port, pki.client("alice"), "from a certificate")).toMatchObject({ type: "finish" });
    expect(requestSubjects(node.dataDir)).toContain("alice@clinic.example");
  });
});

describe("TLS start errors", () => {
  const base: Omit<ListenerConfig, "tls"> = { host: "127.0.0.1", port: 0, max_connections: 10, max_connections_per_ip: 10, headers_timeout: 5, request_timeout: 5, keep_alive_timeout: 5 };
  const attach = (tlsConfig: Record<string, unknown>, port = 0) => {
    const listeners = new HttpListeners({ baseDir: pki.directory });
    const config = { ...base, port, tls: { client_certificates: "none", subject_from: "cn", client_roles: {}, min_version: "TLSv1.2", ...tlsConfig } } as ListenerConfig;
    listeners.attach(config, silentLogger, { routes: () => undefined });
    return listeners;
  };

  it("refuses an expired server certificate at start", async () => {
    await expect(startTlsNode(tlsBlock({ cert: pki.files.expiredCert, key: pki.files.expiredKey }))).rejects.toThrow(/tls\.cert .*expired\.pem expired on 2021-01-01/);
  });

  it("names a missing file, a key that does not match, and a file that holds no certificate", () => {
    expect(() => attach(tlsBlock({ key: "missing.key" }))).toThrow(/tls\.key: cannot read .*missing\.key \(file not found\)/);
    expect(() => attach(tlsBlock({ key: pki.files.expiredKey }))).toThrow(/tls\.key .*expired\.key does not match the certificate/);
    expect(() => attach(tlsBlock({ cert: pki.files.serverKey }))).toThrow(/tls\.cert .*server\.key holds no PEM certificate/);
  });

  it("refuses two gateways on one port with different TLS", () => {
    const listeners = attach(tlsBlock());
    expect(() => listeners.attach({ ...base }, silentLogger, { upgrade: () => undefined })).toThrow(/configure tls differently/);
  });
});

describe("the TLS port under a raw handshake", () => {
  it("closes a connection that never finishes its handshake (headers_timeout)", async () => {
    const listeners = new HttpListeners({ baseDir: pki.directory });
    const config = { host: "127.0.0.1", port: 0, max_connections: 10, max_connections_per_ip: 10, headers_timeout: 0.5, request_timeout: 5, keep_alive_timeout: 5 };
    listeners.attach({ ...config, tls: { ...tlsBlock(), client_certificates: "none", subject_from: "cn", client_roles: {}, min_version: "TLSv1.2" } }, silentLogger, { routes: () => undefined });
    const port = await listeners.listen(0);
    try {
      // Half a record header, then silence: the server, not the client, ends it.
      const closedBy = await new Promise<string>((resolve) => {
        const socket = net.connect(port, "127.0.0.1", () => socket.write(Buffer.from([0x16, 0x03])));
        socket.on("error", () => undefined);
        socket.on("close", () => resolve("server"));
      });
      expect(closedBy).toBe("server");
    } finally {
      await listeners.release(0);
    }
  });


  it("sends a TLS alert to a ClientHello-sized garbage record and keeps serving", async () => {
    const node = await startTlsNode(tlsBlock());
    try {
      const reply = await new Promise<Buffer>((resolve) => {
        const socket = net.connect(node.port, "127.0.0.1", () => socket.write(Buffer.from("16030100050100000100", "hex")));
        const chunks: Buffer[] = [];
        socket.on("data", (chunk) => chunks.push(chunk));
        socket.on("close", () => resolve(Buffer.concat(chunks)));
        socket.on("error", () => undefined);
      });
      // An alert record (content type 21) or a plain close; never an HTTP answer.
      expect(reply.length === 0 || reply[0] === 21).toBe(true);
      const secure = tls.connect({ host: "127.0.0.1", port: node.port, ca: pki.ca });
      await new Promise<void>((resolve, reject) => secure.once("secureConnect", resolve).once("error", reject));
      secure.destroy();
    } finally {
      await node.close();
    }
  });
});
