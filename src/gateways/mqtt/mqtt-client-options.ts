// Turns the gateway's config into mqtt.js connect options: persistent session, MQTT 5 or 3.1.1, TLS files, no auto-resubscribe.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { IClientOptions } from "mqtt";
import type { MqttOptions } from "../../config/schema.js";

/** Frames up to this multiple of max_payload reach the gateway (and get payload_too_large); the broker drops larger ones. */
const hardLimitFactor = 4;
/** The largest Maximum Packet Size MQTT 5 can express. */
const protocolPacketLimit = 268_435_455;

export interface MqttConnectSettings {
  url: string;
  options: IClientOptions;
}

export function mqttConnectSettings(config: MqttOptions, baseDir: string, firstReconnectMs: number): MqttConnectSettings {
  const mqtt5 = config.protocol_version === 5;
  const options: IClientOptions = {
    clientId: config.client_id ?? defaultClientId(),
    protocolVersion: config.protocol_version,
    // Persistent session: the broker keeps our subscription and queues requests while Clawbot is down.
    clean: false,
    keepalive: config.keepalive,
    connectTimeout: 10_000,
    reconnectPeriod: firstReconnectMs,
    reconnectOnConnackError: true,
    // The gateway subscribes itself on every connect, so that a lost session is rebuilt.
    resubscribe: false,
    ...(config.username !== undefined ? { username: config.username } : {}),
    ...(config.password !== undefined ? { password: config.password } : {}),
    ...(mqtt5
      ? {
          properties: {
            sessionExpiryInterval: config.session_expiry,
            maximumPacketSize: Math.min(protocolPacketLimit, config.max_payload * hardLimitFactor + 64 * 1024),
          },
        }
      : {}),
    ...readTlsFiles(config, baseDir),
  };
  // mqtt.js knows mqtts:// and ssl:// but not tls://.
  const url = config.broker.replace(/^tls:\/\//, "mqtts://");
  return { url, options };
}

/** Stable across restarts, so the broker recognises the session: "clawbot-<hostname>". */
export function defaultClientId(): string {
  return `clawbot-${os.hostname().replace(/[^A-Za-z0-9_-]/g, "-")}`.slice(0, 64);
}

function readTlsFiles(config: MqttOptions, baseDir: string): Pick<IClientOptions, "ca" | "cert" | "key"> {
  const files: Pick<IClientOptions, "ca" | "cert" | "key"> = {};
  for (const key of ["ca", "cert", "key"] as const) {
    const file = config[key];
    if (file === undefined) continue;
    const resolved = path.resolve(baseDir, file);
    try {
      files[key] = fs.readFileSync(resolved);
    } catch (error) {
      throw new Error(`mqtt ${key}: cannot read ${resolved} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  }
  return files;
}
