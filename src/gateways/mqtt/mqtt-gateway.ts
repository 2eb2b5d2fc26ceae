// The MQTT gateway: a client of an external broker that answers JSON request frames published on <prefix>/req/<client>.
import mqtt, { type IPublishPacket, type MqttClient } from "mqtt";
import type { MqttOptions } from "../../config/schema.js";
import { openMemoryDatabase } from "../../store/database.js";
import { RequestLedger } from "../../store/request-ledger.js";
import { Backpressure } from "../backpressure.js";
import type { ServerFrame } from "../frame-session.js";
import type { Gateway, GatewayContext, GatewayStatus } from "../gateway.js";
import { ignoredGatewayEvents, type GatewayEvents } from "../gateway-events.js";
import { mqttConnectSettings, type MqttConnectSettings } from "./mqtt-client-options.js";
import { MqttRequestHandler, type ReplyTarget } from "./mqtt-request-handler.js";
import { MqttTopics } from "./mqtt-topics.js";
import { ReconnectBackoff } from "./reconnect-backoff.js";
import { jsonFrameCodec } from "../frame-codec.js";
import { loadSm2KeyPair } from "../../security/gm/sm2-key-files.js";

export type MqttConnectionState = "waiting-for-model" | "connecting" | "connected" | "reconnecting" | "stopped";

export interface MqttGatewayStatus extends GatewayStatus {
  type: "mqtt";
  state: MqttConnectionState;
  connected: boolean;
  /** Reconnect attempts since start. */
  reconnects: number;
  /** The last connection or subscription error, if any. */
  lastError: string | undefined;
  /** Bytes of replies published and not yet taken by the broker (queued while it is down, or unacknowledged). */
  pendingBytes: number;
  /** Answers paused now because the broker has not taken `max_buffered` bytes of replies. */
  waiting: number;
  /** Answers cancelled with slow_client since start: the broker took no replies for `slow_client_timeout`. */
  slowClient: number;
  /** Requests refused as forbidden: a response topic outside their subject's, or a topic that names no client. */
  forbidden: number;
  /** Request messages taken from the broker since start (refused and duplicate ones included). */
  messagesIn: number;
  /** Reply messages the broker has taken since start. */
  messagesOut: number;
  /** Request messages dropped since start as duplicates (QoS 1 redeliveries; an id running or answered already). */
  duplicatesDropped: number;
}

/** How often start() checks whether the model is loaded: requests are taken off the broker only once they can be served. */
const readyPollMs = 100;
/** How long stop() waits for a clean MQTT disconnect before closing the socket. */
const disconnectTimeoutMs = 3_000;
/** How often answered requests older than the retention are pruned from the ledger. */
const pruneIntervalMs = 10 * 60 * 1000;

export class MqttGateway implements Gateway {
  private readonly topics: MqttTopics;
  private readonly settings: MqttConnectSettings;
  private readonly backoff: ReconnectBackoff;
  private readonly handler: MqttRequestHandler;
  private client: MqttClient | undefined;
  private state: MqttConnectionState = "waiting-for-model";
  private reconnects = 0;
  private lastError: string | undefined;
  private paused = false;
  /** Requests left unacknowledged because the node is stopping; the broker redelivers them after a restart. */
  private held = 0;
  private readyTimer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  /** Whether the requests interrupted by an earlier stop have been taken up again (once per process, on the first connect). */
  private resumed = false;
  /** How long an answered request is remembered, so that a redelivery is not run again. */
  private readonly retentionMs: number;
  /** Bytes of replies handed to mqtt.js whose publish has not completed: its offline queue, socket buffer and unacknowledged QoS 1/2 packets. */
  private pendingBytes = 0;
  private waiting = 0;
  private slowClient = 0;
  private messagesOut = 0;
  private readonly events: GatewayEvents;
  /** Whether the broker connection is open (reported opened, not yet closed). */
  private open = false;
  /** The static SM2 public key of `encryption: {type: sm}` (printed at start): every request must then be sealed to it. */
  readonly linkPublicKey?: string;

  constructor(
    private readonly config: MqttOptions,
    private readonly context: GatewayContext,
  ) {
    this.events = context.events ?? ignoredGatewayEvents;
    this.topics = new MqttTopics(config.topic_prefix, config.response_topic);
    this.backoff = new ReconnectBackoff({ maxMs: config.reconnect_max_delay * 1000 });
    this.settings = mqttConnectSettings(config, context.baseDir, this.backoff.next());
    this.retentionMs = Math.max(config.session_expiry, 600) * 1000;
    const staticKeys = config.encryption ? this.loadLinkKey(config.encryption) : undefined;
    this.linkPublicKey = staticKeys?.publicKey;
    this.handler = new MqttRequestHandler({
      context,
      topics: this.topics,
      maxPayload: config.max_payload,
      gatewayId: String(this.settings.options.clientId),
      // Without the node's database (a gateway built on its own), the ledger lasts as long as the process.
      ledger: context.requestLedger ?? new RequestLedger(openMemoryDatabase()),
      publish: (target, frame) => this.publish(target, frame),
      buffer: {
        full: () => this.pendingBytes > config.max_buffered,
        drained: (signal) => this.drained(signal),
      },
      ...(staticKeys ? { staticKeys } : {}),
    });
  }

  /** The static SM2 key from the configured files, or generated once into the data directory (logged). */
  private loadLinkKey(encryption: NonNullable<MqttOptions["encryption"]>) {
    const { context } = this;
    const loaded = loadSm2KeyPair({ privateKey: encryption.private_key, publicKey: encryption.public_key, baseDir: context.baseDir, dataDir: context.dataDir ?? context.baseDir });
    if (loaded.generated) context.logger.info({ file: loaded.generated, public_key: loaded.keys.publicKey }, "generated the SM2 link key");
    return loaded.keys;
  }

  get name(): string {
    return `mqtt ${redactedUrl(this.config.broker)} (${this.topics.requestFilter}, client id ${this.settings.options.clientId})`;
  }

  status(): MqttGatewayStatus {
    return {
      type: "mqtt",
      name: this.name,
      healthy: this.state === "connected",
      connections: this.state === "connected" ? 1 : 0,
      state: this.state,
      connected: this.state === "connected",
      reconnects: this.reconnects,
      lastError: this.lastError,
      pendingBytes: this.pendingBytes,
      waiting: this.waiting,
      slowClient: this.slowClient,
      forbidden: this.handler.forbidden,
      messagesIn: this.handler.messagesIn,
      messagesOut: this.messagesOut,
      duplicatesDropped: this.handler.duplicatesDropped,
    };
  }

  /** Returns at once: the broker connection opens when the model is ready and retries in the background. */
  async start(): Promise<void> {
    const check = () => {
      if (this.state !== "waiting-for-model") return;
      if (this.context.isReady()) return this.connect();
      // Not unref'd: with only MQTT gateways, nothing else keeps the process alive until the connection opens.
      this.readyTimer = setTimeout(check, readyPollMs);
    };
    check();
  }

  pause(): void {
    this.paused = true;
  }

  async stop(): Promise<void> {
    this.paused = true;
    this.state = "stopped";
    clearTimeout(this.readyTimer);
    clearInterval(this.pruneTimer);
    this.handler.cancelAll();
    const client = this.client;
    if (!client) return;
    if (client.connected && this.held === 0) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), disconnectTimeoutMs)));
      const ended = await Promise.race([client.endAsync(false).then(() => true, () => false), timedOut]);
      clearTimeout(timer);
      if (ended) return;
    } else if (client.connected) {
      // Inbound processing is held (so the held requests stay unacknowledged): let the replies already written reach the broker.
      await flushed(client);
    }
    await client.endAsync(true);
  }

  private connect(): void {
    this.state = "connecting";
    const { logger } = this.context;
    logger.info({ broker: redactedUrl(this.config.broker), clientId: this.settings.options.clientId }, "mqtt connecting");
    const client = mqtt.connect(this.settings.url, { ...this.settings.options });
    this.client = client;
    client.handleMessage = (packet, done) => this.receive(packet, done);
    client.on("connect", (connack) => {
      if (this.state === "stopped") return;
      const reconnected = this.reconnects > 0;
      this.state = "connected";
      if (!this.open) {
        this.open = true;
        this.events.connectionOpened();
      }
      this.backoff.reset();
      client.options.reconnectPeriod = this.backoff.next();
      logger.info({ sessionPresent: connack.sessionPresent, reconnects: this.reconnects }, "mqtt connected");
      if (reconnected && !connack.sessionPresent) {
        logger.warn("mqtt broker had no session for this client id: requests published while disconnected were not kept");
      }
      if (!this.resumed) this.resumeInterrupted();
      this.subscribe(client);
    });
    client.on("reconnect", () => {
      this.reconnects += 1;
      this.state = "reconnecting";
      // mqtt.js waits a fixed reconnectPeriod; setting it before each attempt makes the next wait longer (capped).
      client.options.reconnectPeriod = this.backoff.next();
      logger.info({ attempt: this.reconnects, nextDelayMs: client.options.reconnectPeriod }, "mqtt reconnecting");
    });
    client.on("close", () => {
      if (this.state === "connected") logger.warn({ broker: redactedUrl(this.config.broker) }, "mqtt connection lost; reconnecting");
      if (this.open) {
        this.open = false;
        // Abnormal unless the gateway is stopping: the broker went away or dropped the connection.
        this.events.connectionClosed(this.state !== "stopped");
      }
      if (this.state !== "stopped") this.state = "reconnecting";
    });
    client.on("disconnect", (packet) => {
      logger.warn({ reasonCode: packet.reasonCode, reason: packet.properties?.reasonString }, "mqtt broker sent DISCONNECT");
    });
    client.on("error", (error) => {
      this.lastError = error.message;
      logger.warn({ err: error.message, attempt: this.reconnects }, "mqtt connection error");
    });
  }

  /** First connect: answers the requests a killed or crashed process had accepted but not answered, and starts pruning. */
  private resumeInterrupted(): void {
    this.resumed = true;
    const { logger } = this.context;
    try {
      const pruned = this.handler.prune(this.retentionMs);
      const resumed = this.handler.resumeInterrupted();
      logger.info({ resumed, pruned }, `mqtt resumed ${resumed} interrupted request${resumed === 1 ? "" : "s"}`);
    } catch (error) {
      logger.error({ err: error }, "mqtt request ledger could not be read");
    }
    this.pruneTimer = setInterval(() => {
      try {
        this.handler.prune(this.retentionMs);
      } catch (error) {
        logger.warn({ err: error }, "mqtt request ledger not pruned");
      }
    }, pruneIntervalMs);
    this.pruneTimer.unref();
  }

  private subscribe(client: MqttClient): void {
    const noLocal = this.config.protocol_version === 5 ? { nl: true } : {};
    client.subscribe(this.topics.requestFilter, { qos: this.config.qos, ...noLocal }, (error, granted) => {
      const refused = granted?.find((grant) => grant.qos === 128);
      if (error || refused) {
        this.lastError = error?.message ?? `the broker refused the subscription to ${this.topics.requestFilter}`;
        this.context.logger.error({ reason: this.lastError }, "mqtt subscribe failed");
        return;
      }
      this.context.logger.debug({ filter: this.topics.requestFilter, qos: this.config.qos }, "mqtt subscribed");
    });
  }

  /**
   * mqtt.js calls this for each inbound PUBLISH, one at a time, and sends the PUBACK (QoS 1) or PUBCOMP (QoS 2)
   * when `done` is called: after the request is accepted. While stopping, `done` is never called, so the
   * request stays unacknowledged on the broker and is delivered again when Clawbot comes back.
   */
  private receive(packet: IPublishPacket, done: (error?: Error) => void): void {
    if (this.paused) {
      this.held += 1;
      if (this.held === 1) this.context.logger.info("mqtt node stopping: new requests stay on the broker until the next start");
      return;
    }
    void this.handler.accept(packet).finally(() => done());
  }

  /** Waits until the replies held for the broker are back under max_buffered; slow_client past slow_client_timeout. */
  private async drained(signal: AbortSignal): Promise<void> {
    const { max_buffered: maxBuffered, slow_client_timeout: timeout } = this.config;
    const backpressure = new Backpressure({ buffered: () => this.pendingBytes, maxBuffered, timeoutMs: timeout * 1000, signal });
    if (!backpressure.full) return;
    this.waiting += 1;
    try {
      await backpressure.drained();
    } catch (error) {
      this.slowClient += 1;
      this.context.logger.warn({ pendingBytes: this.pendingBytes, maxBuffered }, "mqtt answer cancelled: the broker took no replies in time");
      throw error;
    } finally {
      this.waiting -= 1;
    }
  }

  /**
   * Resolves true once the broker has the frame (QoS 1/2: acknowledged; QoS 0: written), false on an error.
   * Until then its bytes count as pending: above `max_buffered`, answers wait (backpressure while the broker is down or slow).
   */
  private publish(target: ReplyTarget, frame: ServerFrame): Promise<boolean> {
    const client = this.client;
    if (!client) return Promise.resolve(false);
    const sealed = target.sealed;
    const properties =
      this.config.protocol_version === 5
        ? sealed
          ? { contentType: "application/octet-stream", ...(target.correlationData ? { correlationData: target.correlationData } : {}) }
          : { contentType: "application/json", payloadFormatIndicator: true, ...(target.correlationData ? { correlationData: target.correlationData } : {}) }
        : undefined;
    const payload = sealed ? sealed.seal(JSON.stringify(frame)) : jsonFrameCodec.encode(frame);
    const bytes = Buffer.byteLength(payload) + Buffer.byteLength(target.topic);
    this.pendingBytes += bytes;
    return new Promise((resolve) => {
      client.publish(target.topic, payload, { qos: this.config.qos, properties }, (error) => {
        this.pendingBytes -= bytes;
        if (error) this.context.logger.warn({ err: error.message, topic: target.topic }, "mqtt reply not published");
        else {
          this.messagesOut += 1;
          this.events.frameSent();
        }
        resolve(!error);
      });
    });
  }
}

function redactedUrl(url: string): string {
  return url.replace(/\/\/[^/@]*@/, "//");
}

function delay(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/** Waits (up to a second) until the socket has handed everything written to the kernel. */
async function flushed(client: MqttClient): Promise<void> {
  const stream = client.stream as unknown as { writableLength?: number };
  for (let waited = 0; (stream.writableLength ?? 0) > 0 && waited < 1000; waited += 10) await delay(10);
  await delay(50);
}
