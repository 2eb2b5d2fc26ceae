// The MQTT SM envelope on its own: a request opens only under the static key it was sealed to, replies only in order and only from that key's holder.
import { describe, expect, it } from "vitest";
import { ClawError } from "../core/errors.js";
import { generateSm2KeyPair } from "../security/gm/gm-crypto.js";
import { openSealedRequest, requestHeaderLength, SealedReplies, SmMqttRequest } from "./sm-mqtt-envelope.js";

const server = generateSm2KeyPair();

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    return error instanceof ClawError ? error.code : "not a ClawError";
  }
  return undefined;
}

describe("the MQTT SM envelope", () => {
  it("opens a sealed request under the server key and its replies in order, ignoring a duplicate", () => {
    const request = new SmMqttRequest(server.publicKey);
    const sealed = request.seal('{"type":"chat","id":"a","message":"hello 你好"}');
    expect(sealed.includes(Buffer.from("hello"))).toBe(false);
    const opened = openSealedRequest(sealed, server);
    expect(opened.text).toBe('{"type":"chat","id":"a","message":"hello 你好"}');
    const replies = new SealedReplies(opened.reply);
    const first = replies.seal("one");
    const second = replies.seal("two");
    expect(request.matches(first)).toBe(true);
    expect(request.open(first)).toBe("one");
    expect(request.open(first)).toBeUndefined();
    expect(request.open(second)).toBe("two");
  });

  it("refuses a flipped bit anywhere, a request sealed to another key, and a reply out of order", () => {
    const request = new SmMqttRequest(server.publicKey);
    const sealed = request.seal("{}");
    for (const at of [0, 5, requestHeaderLength - 1, requestHeaderLength, sealed.length - 1]) {
      const flipped = Buffer.from(sealed);
      flipped[at] = (flipped[at] as number) ^ 0x01;
      expect(codeOf(() => openSealedRequest(flipped, server))).toBe("secure_link_failed");
    }
    expect(codeOf(() => openSealedRequest(sealed, generateSm2KeyPair()))).toBe("secure_link_failed");
    expect(codeOf(() => openSealedRequest(Buffer.from('{"type":"ping"}'), server))).toBe("secure_link_failed");
    const replies = new SealedReplies(openSealedRequest(sealed, server).reply);
    replies.seal("skipped");
    expect(codeOf(() => request.open(replies.seal("second")))).toBe("secure_link_failed");
  });

  it("a reply not sealed by the holder of the server key does not open (server authentication)", () => {
    const request = new SmMqttRequest(server.publicKey);
    const sealed = request.seal("{}");
    // An impostor can read the header but not the shared secret: it derives its reply keys from its own key.
    const impostor = generateSm2KeyPair();
    const forged = new SealedReplies({ tag: Buffer.from(sealed.subarray(66, 82)), secret: Buffer.alloc(32, 7) }).seal('{"type":"finish"}');
    expect(request.matches(forged)).toBe(true);
    expect(codeOf(() => request.open(forged))).toBe("secure_link_failed");
    expect(codeOf(() => openSealedRequest(sealed, impostor))).toBe("secure_link_failed");
  });

  it("a resumed run (a new run id) starts at sequence 0 under fresh keys", () => {
    const request = new SmMqttRequest(server.publicKey);
    const secret = openSealedRequest(request.seal("{}"), server).reply;
    const firstRun = new SealedReplies(secret);
    expect(request.open(firstRun.seal("a"))).toBe("a");
    const resumed = new SealedReplies(secret);
    const again = resumed.seal("a");
    expect(again.subarray(17, 33).equals(firstRun.seal("b").subarray(17, 33))).toBe(false);
    expect(request.open(again)).toBe("a");
  });
});
