// Feishu's long connection through the official SDK's WSClient (binary protobuf frames): events in, connection state out.
import type { Logger } from "../../../logging/logger.js";
import type { GatewayEvents } from "../../gateway-events.js";

export interface FeishuLongConnectionOptions {
  appId: string;
  appSecret: string;
  apiBase: string;
  logger: Logger;
  events: GatewayEvents;
  /** One event the SDK's dispatcher flattened to `{...header, ...event}`; must return at once (the ACK waits for it). */
  onMessage(event: Record<string, unknown>): void;
}

type SdkState = "connecting" | "connected" | "reconnecting" | "failed" | "idle";

/** Owns one WSClient: it fetches its endpoint from `${api_base}/callback/ws/endpoint` and reconnects by itself. */
export class FeishuLongConnection {
  private client: import("@larksuiteoapi/node-sdk").WSClient | undefined;
  private open = false;

  constructor(private readonly options: FeishuLongConnectionOptions) {}

  async start(): Promise<void> {
    // Loaded here: the SDK is large, and only a node with a Feishu long connection needs it.
    const lark = await import("@larksuiteoapi/node-sdk");
    const { logger, events } = this.options;
    const sdkLogger = sdkLoggerOf(logger);
    const dispatcher = new lark.EventDispatcher({ logger: sdkLogger, loggerLevel: lark.LoggerLevel.warn }).register({
      "im.message.receive_v1": async (data: Record<string, unknown>) => {
        events.frameReceived();
        this.options.onMessage(data);
      },
    });
    const opened = () => {
      if (this.open) return;
      this.open = true;
      events.connectionOpened();
      logger.info("feishu long connection open");
    };
    const lost = () => {
      if (!this.open) return;
      this.open = false;
      events.connectionClosed(true);
      logger.warn("feishu long connection lost; reconnecting");
    };
    this.client = new lark.WSClient({
      appId: this.options.appId,
      appSecret: this.options.appSecret,
      domain: this.options.apiBase,
      logger: sdkLogger,
      loggerLevel: lark.LoggerLevel.warn,
      autoReconnect: true,
      onReady: opened,
      onReconnected: opened,
      onReconnecting: lost,
      onError: (error: Error) => {
        lost();
        logger.error({ err: error }, "feishu long connection gave up (check app_id, app_secret and that the app uses the long connection)");
      },
    });
    await this.client.start({ eventDispatcher: dispatcher });
  }

  /** The SDK's own view: connecting, connected, reconnecting, failed, idle. */
  state(): SdkState {
    return (this.client?.getConnectionStatus().state as SdkState | undefined) ?? "idle";
  }

  stop(): void {
    this.client?.close({ force: true });
    if (this.open) this.options.events.connectionClosed(false);
    this.open = false;
  }
}

/** The SDK logs arrays of parts; they go to our logger at the same level, as one message. */
function sdkLoggerOf(logger: Logger) {
  const line = (parts: unknown[]) => parts.flat().map((part) => (typeof part === "string" ? part : JSON.stringify(part))).join(" ");
  return {
    error: (...parts: unknown[]) => logger.error(`feishu sdk: ${line(parts)}`),
    warn: (...parts: unknown[]) => logger.warn(`feishu sdk: ${line(parts)}`),
    info: (...parts: unknown[]) => logger.info(`feishu sdk: ${line(parts)}`),
    debug: (...parts: unknown[]) => logger.debug(`feishu sdk: ${line(parts)}`),
    trace: (...parts: unknown[]) => logger.trace(`feishu sdk: ${line(parts)}`),
  };
}
