// Channel metrics per gateway: connections, auth failures, frames and frame errors from GatewayEvents; state from status().
import { Counter, Gauge, type Registry } from "prom-client";
import type { Gateway, GatewayStatus } from "../gateways/gateway.js";
import type { GatewayEvents } from "../gateways/gateway-events.js";
import { gatewayStatusOf } from "../gateways/gateway-status.js";
import { StatusCounter } from "./status-counter.js";

export interface ChannelMetrics {
  /** The events of one gateway, labelled with its type. */
  events(gateway: string): GatewayEvents;
  /** The gateways whose status() each scrape reads. */
  watch(gateways: readonly Gateway[]): void;
}

/** What a work-IM gateway's status adds (its channel's delivery counters: src/gateways/im/im-channel.ts stats()). */
interface ImCounters {
  delivered?: number;
  retried?: number;
  failed?: number;
}

/** What an MQTT gateway's status adds (the message counters where the gateway reports them). */
interface MqttCounters {
  connected?: boolean;
  reconnects?: number;
  messagesIn?: number;
  messagesOut?: number;
  duplicatesDropped?: number;
}

export function channelMetrics(registry: Registry): ChannelMetrics {
  const registers = [registry];
  const byGateway = ["gateway"] as const;
  const counter = (name: string, help: string) => new Counter({ name, help, labelNames: byGateway, registers });
  const coded = (name: string, help: string) => new Counter({ name, help, labelNames: ["gateway", "code"] as const, registers });
  const opened = counter("clawbot_gateway_connections_opened_total", "Client connections opened (WebSocket, TCP adapters; HTTP counts sockets).");
  const closed = counter("clawbot_gateway_connections_closed_total", "Client connections closed, cleanly or not.");
  const abnormal = counter("clawbot_gateway_abnormal_disconnects_total", "Connections that ended without a clean close by either side (reset, timeout, protocol error, 1006).");
  const authFailures = coded("clawbot_gateway_auth_failures_total", "Credentials refused, by error code.");
  const framesIn = counter("clawbot_gateway_frames_received_total", "Frames, HTTP requests or MQTT messages received.");
  const framesOut = counter("clawbot_gateway_frames_sent_total", "Frames, SSE events or MQTT messages sent.");
  const frameErrors = coded("clawbot_gateway_frame_errors_total", "Frames refused before they reached the pipeline (malformed, oversized, unknown type), by error code.");

  let gateways: readonly Gateway[] = [];
  // The first gauge reads every gateway's status once per scrape and sets the others (registered after it).
  const up = new Gauge({ name: "clawbot_gateway_up", help: "1 when every gateway of this type can take requests (listening, or connected to its broker).", labelNames: byGateway, registers: [] });
  const mqttConnected = new Gauge({ name: "clawbot_mqtt_connected", help: "1 while the MQTT gateway is connected to its broker.", labelNames: byGateway, registers: [] });
  const mqttCounter = (name: string, help: string) => new StatusCounter(new Counter({ name, help, labelNames: byGateway, registers: [] }));
  const reconnects = mqttCounter("clawbot_mqtt_reconnects_total", "Reconnect attempts to the MQTT broker.");
  const messagesIn = mqttCounter("clawbot_mqtt_messages_received_total", "MQTT request messages taken from the broker.");
  const messagesOut = mqttCounter("clawbot_mqtt_messages_sent_total", "MQTT reply messages published.");
  const duplicates = mqttCounter("clawbot_mqtt_duplicates_dropped_total", "MQTT requests dropped as duplicates (a redelivery of one already answered or running).");
  const deliveries = new StatusCounter(
    new Counter({
      name: "clawbot_im_deliveries_total",
      help: "Work-IM answer pieces by outcome: delivered to the platform, retried after a platform error or an expired token, failed (given up).",
      labelNames: ["gateway", "outcome"] as const,
      registers: [],
    }),
  );
  new Gauge({
    name: "clawbot_gateway_connected_clients",
    help: "Open client connections (an MQTT gateway: 1 while connected to its broker).",
    labelNames: byGateway,
    registers,
    collect() {
      this.reset();
      up.reset();
      mqttConnected.reset();
      const statuses = new Map<string, GatewayStatus[]>();
      for (const gateway of gateways) {
        // An adapter without status() counts under "custom"; one whose status() throws is down.
        const status = gatewayStatusOf(gateway, "custom");
        statuses.set(status.type, [...(statuses.get(status.type) ?? []), status]);
      }
      for (const [type, list] of statuses) {
        const labels = { gateway: type };
        this.set(labels, list.reduce((sum, status) => sum + status.connections, 0));
        up.set(labels, list.every((status) => status.healthy) ? 1 : 0);
        const im = list as (GatewayStatus & ImCounters)[];
        for (const outcome of ["delivered", "retried", "failed"] as const) {
          if (im.some((status) => typeof status[outcome] === "number")) deliveries.update({ gateway: type, outcome }, im.reduce((sum, status) => sum + (status[outcome] ?? 0), 0));
        }
        if (type !== "mqtt") continue;
        const mqtt = list as (GatewayStatus & MqttCounters)[];
        mqttConnected.set(labels, mqtt.every((status) => status.connected === true) ? 1 : 0);
        const total = (key: keyof Omit<MqttCounters, "connected">) =>
          mqtt.some((status) => typeof status[key] === "number") ? mqtt.reduce((sum, status) => sum + (status[key] ?? 0), 0) : undefined;
        reconnects.update(labels, total("reconnects"));
        messagesIn.update(labels, total("messagesIn"));
        messagesOut.update(labels, total("messagesOut"));
        duplicates.update(labels, total("duplicatesDropped"));
      }
    },
  });
  registry.registerMetric(up);
  registry.registerMetric(mqttConnected);
  for (const derived of [reconnects, messagesIn, messagesOut, duplicates]) registry.registerMetric(derived.counter);
  registry.registerMetric(deliveries.counter);

  return {
    events(gateway) {
      const labels = { gateway };
      // Present at 0 from the start, so rate() and increase() see the first event.
      for (const each of [opened, closed, abnormal, framesIn, framesOut]) each.inc(labels, 0);
      return {
        connectionOpened: () => opened.inc(labels),
        connectionClosed: (wasAbnormal) => {
          closed.inc(labels);
          if (wasAbnormal) abnormal.inc(labels);
        },
        authFailed: (code) => authFailures.inc({ gateway, code }),
        frameReceived: () => framesIn.inc(labels),
        frameSent: () => framesOut.inc(labels),
        frameRefused: (code) => frameErrors.inc({ gateway, code }),
      };
    },
    watch(list) {
      gateways = list;
    },
  };
}
