// The Feishu adapter: `{"type": "custom", "protocol": "feishu", …}` (docs/channels.md "Feishu"): webhook or long connection in, replies out.
import type { CustomGatewayConfig } from "../../../config/schema.js";
import type { Gateway, GatewayContext, GatewayStatus } from "../../gateway.js";
import { ignoredGatewayEvents } from "../../gateway-events.js";
import type { ListenerConfig } from "../../http-listeners.js";
import { ImChannel, type DeliveryKind } from "../im-channel.js";
import { TokenCache } from "../token-cache.js";
import { FeishuApi, answerCard } from "./feishu-api.js";
import { parseFeishuConfig, type FeishuConfig } from "./feishu-config.js";
import { readMessageEvent, type FeishuTarget } from "./feishu-event.js";
import { FeishuLongConnection } from "./feishu-long-connection.js";
import { registerFeishuWebhook } from "./feishu-webhook.js";

/** A card's JSON must stay under ~30 KB; markdown escaped into JSON grows, so a piece is kept well below. */
const maxMessageBytes = 28_000;
/** Cards being streamed, remembered at most this many (an answer given up never clears its entry). */
const maxOpenCards = 10_000;

/** Parses the entry's keys with the Feishu schema (errors name the key) and builds the gateway (not started). */
export function createFeishuGateway(rawConfig: CustomGatewayConfig, context: GatewayContext, where = "feishu gateway"): Gateway {
  const config = parseFeishuConfig(rawConfig, where);
  const events = context.events ?? ignoredGatewayEvents;
  const logger = context.logger.child({ gateway: "feishu", mode: config.mode });
  const api = new FeishuApi(config.api_base, config.app_id, config.app_secret);
  const tokens = new TokenCache(() => api.fetchToken());
  const cards = new Map<string, string>();
  const streaming = config.reply_as === "card" && config.stream_interval > 0;

  const deliver = async (target: FeishuTarget, text: string, kind: DeliveryKind, piece: { index: number; count: number }) => {
    const token = await tokens.get();
    if (config.reply_as === "text") {
      if (kind === "partial") return;
      await api.reply(token, target.messageId, { msgType: "text", content: JSON.stringify({ text }) }, `${target.messageId}:${piece.index}`);
      return;
    }
    const card = cards.get(target.messageId);
    const last = kind === "final" && piece.index === piece.count - 1;
    if (card && (kind === "partial" || piece.index === 0)) {
      // The streamed card becomes the first piece of the final answer.
      await api.updateCard(token, card, answerCard(text));
    } else {
      const id = await api.reply(token, target.messageId, { msgType: "interactive", content: answerCard(text) }, `${target.messageId}:${kind === "partial" ? "card" : piece.index}`);
      if (kind === "partial" || piece.index === 0) rememberCard(cards, target.messageId, id);
    }
    if (last) cards.delete(target.messageId);
  };

  const name = `feishu ${config.mode === "webhook" ? `webhook ${config.callback_path}` : `long connection ${config.api_base}`}`;
  const channel = new ImChannel<FeishuTarget>({
    platform: "feishu",
    // Feishu allows 5 messages a second per user and per group (im/v1/messages limits).
    platformRates: { userPerMinute: 300, groupPerMinute: 300 },
    name,
    config,
    context,
    maxMessageBytes,
    deliver,
    ...(streaming ? { streaming: { intervalMs: config.stream_interval * 1000 } } : {}),
    onTokenExpired: () => tokens.invalidate(),
  });
  const onMessage = (event: Record<string, unknown>) => {
    if (event.event_type !== "im.message.receive_v1") return;
    const read = readMessageEvent(event, { userIdType: config.user_id_type, ...(config.bot_open_id ? { botOpenId: config.bot_open_id } : {}) });
    if (!read) return void logger.debug({ event_id: event.event_id }, "feishu event skipped (not a user's text message)");
    channel.receive(read.inbound, read.target);
  };

  if (config.mode === "long_connection") return longConnectionGateway(config, context, name, channel, onMessage);
  return webhookGateway(config, context, name, channel, onMessage);
}

function webhookGateway(config: FeishuConfig, context: GatewayContext, name: string, channel: ImChannel<FeishuTarget>, onEvent: (event: Record<string, unknown>) => void): Gateway {
  const { listeners, logger } = context;
  const events = context.events ?? ignoredGatewayEvents;
  if (!listeners) throw new Error("the feishu webhook needs the node's HTTP listeners: run it inside the daemon (clawbot start)");
  const own = config.port !== undefined ? ownListener(config) : undefined;
  const listener = own ?? context.httpListener;
  if (!listener) throw new Error("the feishu webhook has no port: give it `port`, or add an http gateway whose port it shares");
  const routes = (app: Parameters<typeof registerFeishuWebhook>[0]) => registerFeishuWebhook(app, { config, events, logger, countRequests: !own, onEvent });
  listeners.attach(listener, logger, own ? { routes, events } : { mount: routes });
  let state = "stopped";
  return {
    name,
    async start() {
      if (own) await listeners.listen(own.port);
      state = "listening";
    },
    async stop() {
      state = "stopped";
      await channel.close();
      if (own) await listeners.release(own.port);
    },
    status: (): GatewayStatus => ({ type: "feishu", name, state, healthy: state === "listening", connections: own ? listeners.httpConnections(own.port) : 0, ...channel.stats() }),
  };
}

function longConnectionGateway(config: FeishuConfig, context: GatewayContext, name: string, channel: ImChannel<FeishuTarget>, onMessage: (event: Record<string, unknown>) => void): Gateway {
  const connection = new FeishuLongConnection({
    appId: config.app_id,
    appSecret: config.app_secret,
    apiBase: config.api_base,
    logger: context.logger.child({ gateway: "feishu" }),
    events: context.events ?? ignoredGatewayEvents,
    onMessage,
  });
  let stopped = true;
  return {
    name,
    async start() {
      stopped = false;
      await connection.start();
    },
    async stop() {
      stopped = true;
      connection.stop();
      await channel.close();
    },
    status: (): GatewayStatus => {
      const state = stopped ? "stopped" : connection.state();
      return { type: "feishu", name, state, healthy: state === "connected", connections: state === "connected" ? 1 : 0, ...channel.stats() };
    },
  };
}

/** A listener of its own: the other listener keys at their defaults (put TLS in front with a reverse proxy). */
function ownListener(config: FeishuConfig): ListenerConfig {
  return { host: config.host, port: config.port ?? 0, max_connections: 20_000, max_connections_per_ip: 1_000, headers_timeout: 10, request_timeout: 30, keep_alive_timeout: 5 };
}

function rememberCard(cards: Map<string, string>, messageId: string, cardId: string): void {
  cards.set(messageId, cardId);
  if (cards.size > maxOpenCards) cards.delete(cards.keys().next().value as string);
}
