// The DingTalk adapter: `{"type": "custom", "protocol": "dingtalk", …}` (docs/channels.md): Stream mode or the robot HTTP callback.
import type { CustomGatewayConfig } from "../../../config/schema.js";
import type { Gateway, GatewayContext, GatewayStatus } from "../../gateway.js";
import { ignoredGatewayEvents } from "../../gateway-events.js";
import type { ListenerConfig } from "../../http-listeners.js";
import { ImChannel } from "../im-channel.js";
import { DingtalkApi, dingtalkMaxMessageBytes } from "./dingtalk-api.js";
import { dingtalkCallbackRoutes } from "./dingtalk-callback.js";
import { parseDingtalkConfig, type DingtalkConfig } from "./dingtalk-config.js";
import { parseBotMessage, type DingtalkTarget } from "./dingtalk-message.js";
import { DingtalkStream } from "./dingtalk-stream.js";

/** How often start() looks whether the model is loaded before Stream mode connects (messages would be ACKed unanswerable). */
const readyPollMs = 200;
/** Seconds stop() lets queued answers finish. */
const closeGraceMs = 5_000;

/** Parses the entry's keys with the DingTalk schema (errors name the key) and builds the gateway (not started). */
export function createDingtalkGateway(config: CustomGatewayConfig, context: GatewayContext, where?: string): Gateway {
  const settings = parseDingtalkConfig(config, where);
  const api = new DingtalkApi({ apiBase: settings.api_base, clientId: settings.client_id, clientSecret: settings.client_secret, robotCode: settings.robot_code ?? settings.client_id, logger: context.logger });
  const channelOptions = (name: string) => ({
    platform: "dingtalk",
    // DingTalk robots send about 20 messages a minute (the documented limit of group robots; no official figure for others).
    platformRates: { userPerMinute: 20, groupPerMinute: 20 },
    name,
    config: settings,
    context,
    maxMessageBytes: dingtalkMaxMessageBytes,
    deliver: (target: DingtalkTarget, text: string) => api.send(target, text),
    onTokenExpired: () => api.tokens.invalidate(),
  });
  if (settings.mode === "stream") return new DingtalkStreamGateway(settings, context, new ImChannel(channelOptions(`dingtalk stream ${settings.client_id}`)));
  return createCallbackGateway(settings, context, channelOptions);
}

class DingtalkStreamGateway implements Gateway {
  readonly name: string;
  private readonly stream: DingtalkStream;
  private readyTimer: NodeJS.Timeout | undefined;

  constructor(settings: DingtalkConfig, private readonly context: GatewayContext, private readonly channel: ImChannel<DingtalkTarget>) {
    this.name = `dingtalk stream ${settings.client_id}`;
    const events = context.events ?? ignoredGatewayEvents;
    this.stream = new DingtalkStream({
      apiBase: settings.api_base,
      clientId: settings.client_id,
      clientSecret: settings.client_secret,
      reconnectMaxDelayMs: settings.reconnect_max_delay * 1000,
      logger: context.logger,
      events,
      onBotMessage: (data) => {
        const parsed = parseBotMessage(data);
        if ("error" in parsed) {
          events.frameRefused("bad_request");
          return context.logger.warn({ error: parsed.error }, "DingTalk Stream delivered a message the adapter cannot read");
        }
        channel.receive(parsed.inbound, parsed.target);
      },
    });
  }

  /** Returns at once: the connection opens when the model is ready, and is retried in the background. */
  async start(): Promise<void> {
    const check = () => {
      if (this.stream.state !== "waiting-for-model") return;
      if (this.context.isReady()) return this.stream.connect();
      this.readyTimer = setTimeout(check, readyPollMs);
    };
    check();
  }

  async stop(): Promise<void> {
    clearTimeout(this.readyTimer);
    this.stream.stop();
    await this.channel.close(closeGraceMs);
  }

  status(): GatewayStatus & { reconnects: number; lastError?: string; answering: number; queued: number } {
    const connected = this.stream.state === "connected";
    return {
      type: "dingtalk",
      name: this.name,
      state: this.stream.state,
      healthy: connected,
      connections: connected ? 1 : 0,
      reconnects: this.stream.reconnects,
      ...(this.stream.lastError !== undefined ? { lastError: this.stream.lastError } : {}),
      ...this.channel.stats(),
    };
  }
}

function createCallbackGateway(settings: DingtalkConfig, context: GatewayContext, channelOptions: (name: string) => ConstructorParameters<typeof ImChannel<DingtalkTarget>>[0]): Gateway {
  const listeners = context.listeners;
  if (!listeners) throw new Error("The dingtalk callback mode needs the node's HTTP listeners: run it inside a Clawbot node (clawbot start).");
  const shared = settings.port === undefined;
  if (shared && !context.httpListener) {
    throw new Error('The dingtalk callback mode without "port" mounts on the http gateway\'s port, and the config has no http gateway: add one or give the dingtalk gateway a port.');
  }
  const listener: ListenerConfig = shared
    ? context.httpListener!
    : { host: settings.host, port: settings.port!, max_connections: 20_000, max_connections_per_ip: 1_000, headers_timeout: 10, request_timeout: 30, keep_alive_timeout: 5, ...(settings.tls ? { tls: settings.tls } : {}) };
  const name = `dingtalk callback ${listener.host}:${listener.port}${settings.callback_path}`;
  const channel = new ImChannel(channelOptions(name));
  const events = context.events ?? ignoredGatewayEvents;
  const routes = dingtalkCallbackRoutes({ path: settings.callback_path, appSecret: settings.client_secret, maxClockSkewSeconds: settings.max_clock_skew, maxBody: settings.max_body, channel, events, logger: context.logger });
  listeners.attach(listener, context.logger, shared ? { mount: routes } : { routes, events });
  let state = "stopped";
  return {
    name,
    async start() {
      if (!shared) await listeners.listen(listener.port);
      state = "listening";
    },
    async stop() {
      state = "stopped";
      if (!shared) await listeners.release(listener.port);
      await channel.close(closeGraceMs);
    },
    status() {
      return { type: "dingtalk", name, state, healthy: state === "listening", connections: shared ? 0 : listeners.httpConnections(listener.port), ...channel.stats() };
    },
  };
}
