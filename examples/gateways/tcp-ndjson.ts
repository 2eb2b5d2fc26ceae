// Example protocol adapter: Clawbot's JSON frames, one per line, over plain TCP. A template for your own protocol.
//
// Config:  {"type": "custom", "protocol": "tcp-ndjson", "path": "./examples/gateways/tcp-ndjson.ts",
//           "port": 9000, "auth": {"type": "jwt", "secret": "${CLAWBOT_JWT_SECRET}"}}
// Try it:  printf '%s\n' '{"type":"auth","token":"<jwt>"}' '{"type":"chat","id":"1","message":"Hello"}' | nc 127.0.0.1 9000
// With "encryption": {"type": "sm"}, the first line is the SM2 hello and every later line a base64 SM4-GCM record
// (docs/protocol.md "Encrypted link (SM)"): the codec does it, the adapter only writes and reads lines.
import net from "node:net";
import { z } from "zod";
import { ClawError, defineGatewayAdapter, errorFrame, FrameSession, ignoredGatewayEvents, linkCodecs, linkEncryptionSchema, parseClientFrame, type Principal } from "clawbot";

const optionsSchema = z.strictObject({
  host: z.string().default("127.0.0.1"),
  port: z.number().int().min(0).max(65535),
  /** Longest accepted line in bytes. */
  max_line: z.number().int().positive().default(1024 * 1024),
  /** `{type: sm}`: the encrypted link (SM2 handshake, SM4-GCM records as base64 lines). */
  encryption: linkEncryptionSchema.optional(),
});

export default defineGatewayAdapter({
  protocol: "tcp-ndjson",
  options: optionsSchema,
  // Where it listens, and that it checks the entry's auth (chats before a valid auth frame are refused): off
  // loopback, Clawbot refuses to start it without auth: {type: jwt}.
  exposure: (options) => ({ host: options.host, authenticates: true }),
  create(options, context) {
    const server = net.createServer((socket) => serveClient(socket));
    const sockets = new Set<net.Socket>();
    // Report connections and frames (metrics and the audit ledger count them); refused tokens are reported for you.
    const events = context.events ?? ignoredGatewayEvents;
    // Plain JSON lines, or the encrypted link: one codec per connection.
    const { codecs, publicKey } = linkCodecs(options.encryption, context, "text");

    function serveClient(socket: net.Socket): void {
      sockets.add(socket);
      events.connectionOpened();
      let refusedAuth = false; // the node closed it for a bad token: an abnormal close
      const codec = codecs();
      const send = (frame: Record<string, unknown>) => {
        if (!socket.writable) return false;
        events.frameSent();
        return socket.write(`${codec.encode(frame).toString()}\n`);
      };
      const session = new FrameSession({ pipeline: context.pipeline, gateway: "tcp-ndjson", send, sessions: context.sessions });
      let principal: Principal | undefined;
      let pending = "";
      // Lines are handled in order, so an auth line is verified before the chat after it.
      let queue = Promise.resolve();

      const handleLine = async (line: string) => {
        if (!line.trim()) return;
        events.frameReceived();
        const decoded = codec.decode(Buffer.from(line));
        if ("reply" in decoded) return void socket.write(`${decoded.reply.toString()}\n`);
        if ("error" in decoded) {
          events.frameRefused(decoded.error.code);
          send(errorFrame(null, decoded.error));
          if (decoded.fatal) socket.end();
          return;
        }
        const parsed = parseClientFrame(decoded.text);
        if ("error" in parsed) {
          events.frameRefused(parsed.error.code);
          return void send(errorFrame(parsed.id, parsed.error));
        }
        const frame = parsed.frame;
        if (frame.type === "auth") {
          try {
            principal = await context.authenticator.authenticate(frame.token, socket.remoteAddress);
            send({ type: "authenticated", subject: principal.subject });
          } catch (error) {
            refusedAuth = true;
            send(errorFrame(null, error instanceof ClawError ? error : new ClawError("unauthorized", "Invalid token.")));
            socket.end();
          }
          return;
        }
        // Without auth configured, every client is the anonymous principal.
        if (!principal && !context.authenticator.required) principal = await context.authenticator.authenticate(undefined, socket.remoteAddress);
        if (!principal && (frame.type === "chat" || frame.type === "sessions" || frame.type === "history")) events.frameRefused("unauthorized");
        void session.receive(frame, principal);
      };

      socket.setEncoding("utf8");
      let discarding = false; // inside a line that was too long: drop it up to its newline
      const tooLong = () => {
        events.frameReceived();
        events.frameRefused("payload_too_large");
        send(errorFrame(null, new ClawError("payload_too_large", `Lines are limited to ${options.max_line} bytes.`)));
      };
      socket.on("data", (chunk: string) => {
        pending += chunk;
        let newline: number;
        while ((newline = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          if (discarding) discarding = false;
          else if (Buffer.byteLength(line) > options.max_line) tooLong();
          else queue = queue.then(() => handleLine(line));
        }
        if (!discarding && Buffer.byteLength(pending) > options.max_line) {
          discarding = true;
          tooLong();
        }
        if (discarding) pending = "";
      });
      socket.on("close", (hadError) => {
        sockets.delete(socket);
        session.cancelAll();
        events.connectionClosed(hadError || refusedAuth);
      });
      socket.on("error", (error) => context.logger.debug({ err: error }, "tcp-ndjson client error"));
    }

    const name = () => {
      const address = server.address();
      return `tcp-ndjson tcp://${options.host}:${typeof address === "object" && address ? address.port : options.port}`;
    };
    return {
      get name() {
        return name();
      },
      // Printed at start when the link is encrypted.
      linkPublicKey: publicKey,
      start: () =>
        new Promise<void>((resolve, reject) => {
          server.once("error", reject);
          server.listen(options.port, options.host, () => resolve());
        }),
      stop: () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
      // Read by /readyz and the metrics.
      status() {
        const state = server.listening ? "listening" : "stopped";
        return { type: "tcp-ndjson", name: name(), state, healthy: server.listening, connections: sockets.size };
      },
    };
  },
});
