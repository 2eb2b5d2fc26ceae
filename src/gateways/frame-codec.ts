// FrameCodec: how every frame gateway turns server frames into bytes and client bytes into frame text (JSON by default, SM-sealed on an encrypted link).
import type { ClawError } from "../core/errors.js";
import type { ServerFrame } from "./frame-session.js";

/**
 * What one client message decodes to: the frame's JSON text (parsed and validated by frames.ts, which knows whether
 * the transport is a connection or a stateless MQTT message), a handshake reply to send back as is (no frame), or a
 * coded error; `fatal` errors close the connection (the link can no longer be trusted).
 */
export type DecodedFrame = { text: string } | { reply: string | Buffer } | { error: ClawError; fatal: boolean };

/** One connection's (or MQTT client's) codec: stateful for an encrypted link, so a gateway makes one per connection. */
export interface FrameCodec {
  /** Bytes (or text) to send for a server frame. */
  encode(frame: ServerFrame): string | Buffer;
  /** The frame text of one client message, a handshake reply, or a coded error. */
  decode(data: Buffer): DecodedFrame;
}

export type FrameCodecFactory = () => FrameCodec;

/** Plain JSON text frames: the protocol without encryption. */
export const jsonFrameCodec: FrameCodec = {
  encode: (frame) => JSON.stringify(frame),
  decode: (data) => ({ text: data.toString("utf8") }),
};

export const jsonFrameCodecFactory: FrameCodecFactory = () => jsonFrameCodec;
