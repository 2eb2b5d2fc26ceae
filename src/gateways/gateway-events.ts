// What gateways report that never reaches the pipeline: connections, refused credentials, frames, frame errors.
import type { ErrorCode } from "../core/errors.js";

/** One gateway's channel events; the daemon hands each gateway its own (metrics and audit subscribe). Must not throw. */
export interface GatewayEvents {
  /** A client connection opened (WebSocket, TCP adapter; HTTP counts its sockets). */
  connectionOpened(): void;
  /** It closed; `abnormal` when it was not a clean close by either side (reset, timeout, protocol error, 1006). */
  connectionClosed(abnormal: boolean): void;
  /** A credential was refused (missing, expired, bad signature…). `remote` is the client address when known. */
  authFailed(code: ErrorCode, reason: string, remote?: string): void;
  /** A frame (or HTTP request, or MQTT message) arrived. */
  frameReceived(): void;
  /** A frame (or SSE event, or MQTT message) was sent. */
  frameSent(): void;
  /** A frame was refused before it reached the pipeline: malformed, oversized, unknown type. */
  frameRefused(code: ErrorCode): void;
}

/** Events nobody listens to (a gateway built outside the daemon). */
export const ignoredGatewayEvents: GatewayEvents = Object.freeze({
  connectionOpened() {},
  connectionClosed() {},
  authFailed() {},
  frameReceived() {},
  frameSent() {},
  frameRefused() {},
});

/** Every subscriber's events as one; a subscriber that throws is skipped, never the gateway. */
export function combineGatewayEvents(subscribers: GatewayEvents[]): GatewayEvents {
  const each =
    <Name extends keyof GatewayEvents>(name: Name) =>
    (...values: Parameters<GatewayEvents[Name]>) => {
      for (const subscriber of subscribers) {
        try {
          (subscriber[name] as (...args: Parameters<GatewayEvents[Name]>) => void)(...values);
        } catch {
          // Observers own their errors; a channel event never breaks a connection.
        }
      }
    };
  return {
    connectionOpened: each("connectionOpened"),
    connectionClosed: each("connectionClosed"),
    authFailed: each("authFailed"),
    frameReceived: each("frameReceived"),
    frameSent: each("frameSent"),
    frameRefused: each("frameRefused"),
  };
}
