import { EventEmitter } from "node:events";
import type { FastifyReply } from "fastify";
import { describe, expect, it } from "vitest";
import type { Principal } from "../../core/types.js";
import type { Authenticator } from "../../security/authenticator.js";
import { requestSignal } from "./openai-route-context.js";

const principal: Principal = { subject: "carol", roles: ["user"], scopes: [], claims: { jti: "token-1" } };

/** A reply whose raw response can be closed, and an authenticator whose revocation callback the test fires. */
function fixture() {
  const raw = Object.assign(new EventEmitter(), { writableFinished: false });
  const watching: { onRevoked?: () => void; unwatched: number } = { unwatched: 0 };
  const authenticator: Authenticator = {
    required: true,
    authenticate: async () => principal,
    expiresAt: () => undefined,
    watchRevocation: (watched, onRevoked) => {
      expect(watched).toBe(principal);
      watching.onRevoked = onRevoked;
      return () => {
        watching.unwatched += 1;
      };
    },
  };
  return { reply: { raw } as unknown as FastifyReply, raw, authenticator, watching };
}

describe("requestSignal", () => {
  it("aborts a running HTTP request when its token is revoked", () => {
    const { reply, authenticator, watching } = fixture();
    const signal = requestSignal(reply, { authenticator }, principal);
    expect(signal.aborted).toBe(false);
    watching.onRevoked?.();
    expect(signal.aborted).toBe(true);
  });

  it("aborts when the client hangs up early, not after a complete response, and stops watching either way", () => {
    const early = fixture();
    const gone = requestSignal(early.reply, { authenticator: early.authenticator }, principal);
    early.raw.emit("close");
    expect(gone.aborted).toBe(true);
    expect(early.watching.unwatched).toBe(1);

    const complete = fixture();
    const done = requestSignal(complete.reply, { authenticator: complete.authenticator }, principal);
    complete.raw.writableFinished = true;
    complete.raw.emit("close");
    expect(done.aborted).toBe(false);
    expect(complete.watching.unwatched).toBe(1);
  });

  it("works with an authenticator that cannot revoke (auth: none)", () => {
    const { reply, raw } = fixture();
    const signal = requestSignal(reply, { authenticator: { required: false, authenticate: async () => principal, expiresAt: () => undefined } }, principal);
    raw.emit("close");
    expect(signal.aborted).toBe(true);
  });
});
