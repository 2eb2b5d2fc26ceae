// The WeCom adapter: `{"type": "custom", "protocol": "wecom", …}` (docs/channels.md): the app callback, or the AI-bot long connection.
import type { FastifyInstance } from "fastify";
import type { CustomGatewayConfig } from "../../../config/schema.js";
import { ClawError } from "../../../core/errors.js";
import type { Logger } from "../../../logging/logger.js";
import type { Gateway, GatewayContext, GatewayStatus } from "../../gateway.js";
import { ignoredGatewayEvents } from "../../gateway-events.js";
import type { HttpListeners, ListenerConfig } from "../../http-listeners.js";
import { ImChannel } from "../im-channel.js";
import { WecomAibotGateway } from "./wecom-aibot.js";
import { WecomApi } from "./wecom-api.js";
import { registerWecomCallback, type WecomCallbackTarget } from "./wecom-callback.js";
import { ownListener, parseWecomConfig, type WecomAibotConfig, type WecomCallbackConfig } from "./wecom-config.js";

/** WeCom's text and markdown messages take at most 2048 bytes. */
export const wecomMessageBytes = 2048;

/** Parses the entry's keys with the WeCom schema (errors name the key) and builds the gateway (not started). */
export function createWecomGateway(config: CustomGatewayConfig, context: GatewayContext, where?: string): Gateway {
  const wecom = parseWecomConfig(config, where);
  if (wecom.mode === "aibot") return new WecomAibotGateway(wecom as WecomAibotConfig, context);
  return new WecomCallbackGateway(wecom as WecomCallbackConfig, context);
}

/** Messages arrive at our callback URL; answers go out through gettoken + message/send to the member who wrote. */
export class WecomCallbackGateway implements Gateway {
  readonly name: string;
  /** Deliveries acknowledged without an answer (events, images, voice…), by kind. */
  readonly ignored = new Map<string, number>();
  private readonly channel: ImChannel<WecomCallbackTarget>;
  private readonly listeners: HttpListeners;
  /** Set when the callback has a port of its own (else it rides on the http gateway's port). */
  private readonly ownListener: ListenerConfig | undefined;
  private readonly logger: Logger;
  private boundPort: number | undefined;
  private running = false;

  constructor(config: WecomCallbackConfig, context: GatewayContext) {
    if (!context.listeners) throw new ClawError("bad_request", "The wecom callback mode needs the node's HTTP listeners: run it in the daemon (or use mode aibot).");
    const shared = config.port === undefined ? context.httpListener : undefined;
    if (config.port === undefined && !shared) {
      throw new ClawError("bad_request", 'The wecom callback mode has no "port" and the node has no http gateway to mount it on: give it a port or add an http gateway.');
    }
    this.listeners = context.listeners;
    this.ownListener = shared ? undefined : ownListener(config);
    this.logger = context.logger.child({ gateway: "wecom", mode: "callback" });
    const listener = shared ?? this.ownListener!;
    this.name = `wecom callback ${listener.host}:${listener.port}${config.callback_path}`;
    const api = new WecomApi({ apiBase: config.api_base, corpId: config.corp_id, corpSecret: config.corp_secret, agentId: config.agent_id, logger: this.logger });
    this.channel = new ImChannel<WecomCallbackTarget>({
      platform: "wecom",
      // A WeCom member receives at most 30 messages a minute (more are dropped silently by the platform).
      platformRates: { userPerMinute: 30, groupPerMinute: 30 },
      name: this.name,
      config,
      context,
      maxMessageBytes: wecomMessageBytes,
      deliver: (target, text) => api.send(target.userId, text, config.message_type),
      onTokenExpired: () => api.tokens.invalidate(),
    });
    const events = context.events ?? ignoredGatewayEvents;
    const onIgnored = (kind: string): void => {
      this.ignored.set(kind, (this.ignored.get(kind) ?? 0) + 1);
      this.logger.debug({ kind }, "WeCom delivery acknowledged and ignored");
    };
    const routes = (app: FastifyInstance): void => registerWecomCallback(app, { config, channel: this.channel, events, logger: this.logger, onIgnored });
    // Mounted now: the port's routes must all be registered before any gateway listens.
    if (shared) context.listeners.attach(shared, this.logger, { mount: routes });
    // On its own port the listener reports connections and refusals; requests are counted by the routes themselves.
    else context.listeners.attach(listener, this.logger, { routes, events: { ...events, frameReceived() {}, frameSent() {} } });
  }

  async start(): Promise<void> {
    this.running = true;
    if (this.ownListener) this.boundPort = await this.listeners.listen(this.ownListener.port);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.channel.close(5_000);
    if (this.ownListener) await this.listeners.release(this.ownListener.port);
  }

  status(): GatewayStatus {
    return { type: "wecom", name: this.name, state: this.running ? "listening" : "stopped", healthy: this.running, connections: 0, ...this.channel.stats() };
  }

  /** The port the callback listens on (its own, once started). */
  get port(): number | undefined {
    return this.boundPort;
  }
}
