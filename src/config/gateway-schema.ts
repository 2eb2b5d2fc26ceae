// The gateways' part of the configuration schema (src/config/schema.ts composes it): auth, listeners, TLS, websocket, http, mqtt, custom.
import { z } from "zod";

/** One person who may log in with a password (auth.users). */
export const loginUserSchema = z.strictObject({
  /** The login name; also the token's subject. */
  username: z.string().min(1).max(128),
  /** `scrypt$N$r$p$salt$hash` (base64url), from `clawbot auth hash-password`; never the password itself. */
  password_hash: z.string().regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/, "expected a hash from `clawbot auth hash-password` (scrypt$N$r$p$salt$hash)"),
  /** Roles put in the token (the security policy's roles). */
  roles: z.array(z.string().min(1)).default([]),
  /** Scopes put in the token (`admin` opens the admin API and the operator console). */
  scopes: z.array(z.string().min(1)).default([]),
});

const jwtAuthSchema = z.strictObject({
  type: z.literal("jwt"),
  /** HS256/384/512 shared secret (at least 32 bytes). */
  secret: z.string().min(1).optional(),
  /** PEM file with an RSA, EC, Ed25519 or SM2 public key (RS256, ES256, EdDSA, SM2-SM3). */
  public_key: z.string().min(1).optional(),
  /** File holding a JSON Web Key Set. */
  jwks: z.string().min(1).optional(),
  /** Allowed algorithms; by default the ones that fit the configured key. `none` is never accepted. */
  algorithms: z.array(z.string()).nonempty().optional(),
  audience: z.string().optional(),
  issuer: z.string().optional(),
  /** Clock skew allowed on exp/nbf, in seconds. */
  clock_tolerance: z.number().int().min(0).max(300).default(30),
  /**
   * People who may sign in with a password (`POST /auth/login` on the http gateway, the web chat's login form); the
   * node signs their tokens with `secret`. `password_hash` comes from `clawbot auth hash-password` (scrypt).
   */
  users: z.array(loginUserSchema).optional(),
  /** Lifetime of a token signed at login ("30m", "8h", "7d"); 8h when absent. */
  login_ttl: z.string().regex(/^\d+[smhd]$/, 'expected a lifetime such as "30m", "8h" or "7d"').optional(),
});

const noAuthSchema = z.strictObject({ type: z.literal("none") });

export const authSchema = z.discriminatedUnion("type", [jwtAuthSchema, noAuthSchema]).refine((auth) => auth.type !== "jwt" || !auth.users?.length || auth.secret !== undefined, {
  message: "auth.users needs auth.secret: the node signs the tokens of people who log in with it",
  path: ["users"],
});

/** How much a slow reader may hold: above `max_buffered` bytes its generation waits; stuck past the timeout it fails. */
export const backpressureKeys = {
  /** Bytes of answer buffered for one client before its generation pauses (backpressure). */
  max_buffered: z.number().int().positive().default(1024 * 1024),
  /** Seconds a client may stay above `max_buffered` before its request is cancelled with slow_client. */
  slow_client_timeout: z.number().positive().default(30),
};

/** TLS on a websocket/http gateway's port (wss://, https://); gateways sharing a port must give the same block. */
export const listenerTlsSchema = z
  .strictObject({
    /** PEM certificate (chain) and its private key, relative to the config file. */
    cert: z.string().min(1),
    key: z.string().min(1),
    /** Passphrase of an encrypted key (use ${ENV}). */
    passphrase: z.string().optional(),
    /** PEM CA bundle trusted for client certificates (required when client_certificates is not none). */
    ca: z.string().min(1).optional(),
    /** mTLS: `require` refuses the handshake without a certificate the ca signed; `optional` asks for one. */
    client_certificates: z.enum(["none", "optional", "require"]).default("none"),
    /** Where a verified client certificate's subject comes from. */
    subject_from: z.enum(["cn", "san_email", "san_dns", "san_uri"]).default("cn"),
    /** Roles of certificate subjects (subject → roles); a subject not listed has none. */
    client_roles: z.record(z.array(z.string().min(1))).default({}),
    min_version: z.enum(["TLSv1.2", "TLSv1.3"]).default("TLSv1.2"),
  })
  .refine((tls) => tls.client_certificates === "none" || tls.ca !== undefined, {
    message: "client_certificates needs ca: the CA bundle that signs the client certificates",
    path: ["ca"],
  });

/** The agent a request through this gateway runs as when it names none (an entry of `agents`, or "default"). */
export const gatewayAgentKeys = {
  agent: z.string().min(1).optional(),
};

const listenerKeys = {
  ...gatewayAgentKeys,
  port: z.number().int().min(0).max(65535).default(8080),
  host: z.string().default("127.0.0.1"),
  auth: authSchema.default({ type: "none" }),
  /** Serve wss:// / https:// on this port (docs/security.md "TLS and mTLS"). */
  tls: listenerTlsSchema.optional(),
  ...backpressureKeys,
  /** Open connections this gateway's port accepts; more are refused (overloaded). */
  max_connections: z.number().int().positive().default(20_000),
  /** Open connections one client IP may hold; more are refused (overloaded). */
  max_connections_per_ip: z.number().int().positive().default(1_000),
  /** Seconds a client has to send a request's headers (slowloris defence); then 408 slow_client and the socket is closed. */
  headers_timeout: z.number().positive().default(10),
  /** Seconds a client has to send a whole request, body included; then 408 slow_client and the socket is closed. */
  request_timeout: z.number().positive().default(30),
  /** Seconds an idle keep-alive connection stays open between requests. */
  keep_alive_timeout: z.number().positive().default(5),
};

/** `encryption: {type: sm}`: the server's static SM2 key from files (hex or PEM), else generated once into data_dir. */
export const linkEncryptionSchema = z.strictObject({
  type: z.literal("sm"),
  /** Private key file (64 hex digits or PEM), relative to the config file; default data_dir/sm2-link-key.hex, generated at first start. */
  private_key: z.string().min(1).optional(),
  /** Public key file (04‖x‖y hex or PEM), checked against private_key. */
  public_key: z.string().min(1).optional(),
});

const websocketGatewaySchema = z.strictObject({
  type: z.literal("websocket"),
  ...listenerKeys,
  path: z.string().startsWith("/").default("/"),
  /** Largest accepted frame in bytes; larger frames get a payload_too_large error frame. */
  max_payload: z.number().int().positive().default(1024 * 1024),
  /** Seconds between pings; a peer that misses one is closed. */
  ping_interval: z.number().positive().default(30),
  /** Seconds a connection opened without a token has to send its auth frame before it is closed (4401). */
  auth_timeout: z.number().positive().default(10),
  /** Encrypted link (docs/protocol.md "Encrypted link (SM)"): SM2-signed key agreement, then SM4-GCM sealed frames. */
  encryption: linkEncryptionSchema.optional(),
});

const httpGatewaySchema = z.strictObject({
  type: z.literal("http"),
  ...listenerKeys,
  /** Serve the web chat at `/` and the operator console at `/console` (docs/web.md); every asset is local, no CDN. */
  web: z.boolean().default(true),
  /** Largest accepted request body in bytes. */
  max_body: z.number().int().positive().default(1024 * 1024),
});

/** MQTT client to an external broker; also what `{"type": "custom", "protocol": "enterprise_mqtt"}` means. */
export const mqttOptionsSchema = z.strictObject({
  /** tcp://, mqtt://, mqtts://, ssl://, ws:// or wss:// URL of the broker. */
  broker: z.string().regex(/^(tcp|mqtt|mqtts|ssl|tls|ws|wss):\/\//, "expected a broker URL such as tcp://host:1883"),
  username: z.string().optional(),
  password: z.string().optional(),
  /** Stable client id: the broker keeps this session's subscriptions and queued messages while Clawbot is down. */
  client_id: z.string().min(1).max(128).optional(),
  /** 5 (MQTT 5, default) or 4 (MQTT 3.1.1). */
  protocol_version: z.union([z.literal(5), z.literal(4)]).default(5),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
  topic_prefix: z.string().min(1).default("clawbot"),
  /** Seconds the broker keeps the session (and queued requests) after Clawbot disconnects. */
  session_expiry: z.number().int().min(0).default(86_400),
  keepalive: z.number().int().min(0).default(60),
  /** Longest wait between reconnect attempts, in seconds (the delay doubles from 1 s up to this). */
  reconnect_max_delay: z.number().positive().default(30),
  /** PEM files for mqtts:// / wss://. */
  ca: z.string().optional(),
  cert: z.string().optional(),
  key: z.string().optional(),
  /** Largest accepted request payload in bytes. */
  max_payload: z.number().int().positive().default(1024 * 1024),
  /**
   * Where a subject's replies go: {prefix} and {subject} (the verified token's sub; with auth none, the request
   * topic's client segment) are filled in. An MQTT 5 response topic is accepted only at or below it.
   */
  response_topic: z
    .string()
    .default("{prefix}/res/{subject}")
    .refine((template) => template.split("{subject}").length === 2, "must contain {subject} exactly once")
    .refine((template) => !/[+#\u0000]/.test(template), "must not contain the MQTT wildcards + or #"),
  /** Replies waiting for the broker (bytes published, not yet taken): above `max_buffered`, answers pause. */
  ...backpressureKeys,
  auth: authSchema.default({ type: "none" }),
  /** Sealed messages (docs/protocol.md "Encrypted MQTT messages (SM)"): each request SM4-GCM sealed to the static SM2 key, each reply to its request. */
  encryption: linkEncryptionSchema.optional(),
  /**
   * In a cluster (docs/cluster.md), only the primary node connects this gateway — one client id, one broker session —
   * and a standby takes over when the primary dies. false: every node connects (give each its own client_id and topics).
   */
  cluster_singleton: z.boolean().default(true),
  ...gatewayAgentKeys,
});

const mqttGatewaySchema = mqttOptionsSchema.extend({ type: z.literal("mqtt") });

/** A gateway provided by a registered or user-supplied protocol adapter; its other keys are the adapter's own. */
const customGatewaySchema = z
  .object({
    type: z.literal("custom"),
    protocol: z.string().min(1),
    ...gatewayAgentKeys,
  })
  .passthrough();

export const gatewaySchema = z.discriminatedUnion("type", [websocketGatewaySchema, httpGatewaySchema, mqttGatewaySchema, customGatewaySchema]);

export type GatewayConfig = z.infer<typeof gatewaySchema>;
export type WebsocketGatewayConfig = z.infer<typeof websocketGatewaySchema>;
export type LinkEncryptionConfig = z.infer<typeof linkEncryptionSchema>;
export type HttpGatewayConfig = z.infer<typeof httpGatewaySchema>;
export type CustomGatewayConfig = z.infer<typeof customGatewaySchema>;
export type MqttGatewayConfig = z.infer<typeof mqttGatewaySchema>;
export type MqttOptions = z.infer<typeof mqttOptionsSchema>;
export type AuthConfig = z.infer<typeof authSchema>;
export type JwtAuthConfig = z.infer<typeof jwtAuthSchema>;
export type ListenerTlsConfig = z.infer<typeof listenerTlsSchema>;
