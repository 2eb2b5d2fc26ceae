// An independent client, written here from docs/protocol.md "Encrypted link (SM)" on sm-crypto (not the project's module), chats over the encrypted link.
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

interface SmCrypto {
  sm2: {
    generateKeyPairHex(): { privateKey: string; publicKey: string };
    doVerifySignature(message: number[], signature: string, publicKey: string, options: { hash: boolean; userId?: string }): boolean;
  };
  sm3(input: number[]): string;
  sm4: { encrypt(input: number[], key: number[], options: { padding: "none"; output: "array" }): number[] };
}
const require = createRequire(import.meta.url);
const { sm2, sm3, sm4 } = require("sm-crypto") as SmCrypto;
// sm-crypto's own curve and big integers, for the Diffie-Hellman product.
const smUtils = require(require.resolve("sm-crypto").replace(/index\.js$/, "sm2/utils.js")) as {
  getGlobalCurve(): { decodePointHex(hex: string): { multiply(k: unknown): { getX(): { toBigInteger(): { toString(radix: number): string } } } } };
};
const { BigInteger } = createRequire(require.resolve("sm-crypto"))("jsbn") as { BigInteger: new (hex: string, radix: number) => unknown };

const bytes = (hex: string): number[] => [...Buffer.from(hex, "hex")];
const sm3Bytes = (input: number[]): number[] => bytes(sm3(input));

/** GM/T 0003 KDF: SM3(input ‖ counter) for counter 1, 2, … */
function kdf(input: number[], length: number): number[] {
  const out: number[] = [];
  for (let counter = 1; out.length < length; counter += 1) out.push(...sm3Bytes([...input, (counter >>> 24) & 255, (counter >>> 16) & 255, (counter >>> 8) & 255, counter & 255]));
  return out.slice(0, length);
}

const block = (key: number[], input: number[]): number[] => sm4.encrypt(input, key, { padding: "none", output: "array" });
const toBig = (input: number[]): bigint => BigInt(`0x${Buffer.from(input).toString("hex") || "0"}`);
const fromBig = (value: bigint): number[] => bytes(value.toString(16).padStart(32, "0"));

/** Multiplication in GF(2^128) as GCM defines it (NIST SP 800-38D, algorithm 1). */
function gfMultiply(x: bigint, y: bigint): bigint {
  let z = 0n;
  let v = y;
  for (let bit = 127n; bit >= 0n; bit -= 1n) {
    if ((x >> bit) & 1n) z ^= v;
    v = v & 1n ? (v >> 1n) ^ (0xe1n << 120n) : v >> 1n;
  }
  return z;
}

/** SM4-GCM from the SM4 block cipher: CTR from inc32(J0), GHASH over AAD and ciphertext, tag = E(J0) ⊕ S. */
function gcm(key: number[], nonce: number[], input: number[], aad: number[], decrypt: boolean): { output: number[]; tag: number[] } {
  const h = toBig(block(key, new Array(16).fill(0)));
  const counterBlock = (counter: number) => [...nonce, (counter >>> 24) & 255, (counter >>> 16) & 255, (counter >>> 8) & 255, counter & 255];
  const output: number[] = [];
  for (let at = 0; at < input.length; at += 16) {
    const stream = block(key, counterBlock(2 + at / 16));
    input.slice(at, at + 16).forEach((value, index) => output.push(value ^ (stream[index] as number)));
  }
  const ciphertext = decrypt ? input : output;
  const padded = (data: number[]) => [...data, ...new Array((16 - (data.length % 16)) % 16).fill(0)];
  const lengths = [...fromBig((BigInt(aad.length * 8) << 64n) | BigInt(ciphertext.length * 8))];
  const all = [...padded(aad), ...padded(ciphertext), ...lengths];
  let s = 0n;
  for (let at = 0; at < all.length; at += 16) s = gfMultiply(s ^ toBig(all.slice(at, at + 16)), h);
  const tag = fromBig(toBig(block(key, counterBlock(1))) ^ s);
  return { output, tag };
}

class Direction {
  private sequence = 0n;
  constructor(
    private readonly key: number[],
    private readonly iv: number[],
    private readonly direction: number,
  ) {}
  private next(): { nonce: number[]; aad: number[] } {
    const counter = bytes(this.sequence.toString(16).padStart(16, "0"));
    this.sequence += 1n;
    return { nonce: this.iv.map((value, index) => (index < 4 ? value : value ^ (counter[index - 4] as number))), aad: [1, this.direction, ...counter] };
  }
  seal(text: string): Buffer {
    const { nonce, aad } = this.next();
    const { output, tag } = gcm(this.key, nonce, [...Buffer.from(text, "utf8")], aad, false);
    return Buffer.from([1, ...output, ...tag]);
  }
  open(record: Buffer): string {
    const { nonce, aad } = this.next();
    expect(record[0]).toBe(1);
    const body = [...record.subarray(1, record.length - 16)];
    const { output, tag } = gcm(this.key, nonce, body, aad, true);
    expect(Buffer.from(tag).equals(record.subarray(record.length - 16))).toBe(true);
    return Buffer.from(output).toString("utf8");
  }
}

describe("an independent sm-crypto client and the encrypted link", () => {
  let node: TestNode;
  let serverKey: string;

  beforeAll(async () => {
    node = await startTestNode({ agent: { engine: "echo" }, websocket: { encryption: { type: "sm" } } });
    serverKey = node.daemon.gateways[0]?.linkPublicKey as string;
  });
  afterAll(async () => {
    await node?.close();
  });

  it("the GCM written here matches the SP 800-38D structure: a zero-length message's tag is E(J0) ⊕ GHASH(lengths)", () => {
    const key = bytes("0123456789abcdeffedcba9876543210");
    const { tag } = gcm(key, new Array(12).fill(0), [], [], false);
    expect(tag).toEqual(fromBig(toBig(block(key, [...new Array(15).fill(0), 1]))));
  });

  it("completes a handshake, authenticates and chats from the documented envelope alone", async () => {
    const socket = new WebSocket(node.wsUrl);
    const inbox: { data: Buffer; binary: boolean }[] = [];
    const waiters: (() => void)[] = [];
    socket.on("message", (data, binary) => {
      inbox.push({ data: data as Buffer, binary });
      waiters.splice(0).forEach((wake) => wake());
    });
    const nextMessage = async () => {
      while (inbox.length === 0) await new Promise<void>((resolve) => waiters.push(resolve));
      return inbox.shift() as { data: Buffer; binary: boolean };
    };
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    try {
      const ephemeral = sm2.generateKeyPairHex();
      const random = Buffer.from(Array.from({ length: 32 }, () => Math.floor(Math.random() * 256))).toString("hex");
      socket.send(JSON.stringify({ type: "sm-hello", version: 1, key: ephemeral.publicKey, random }));
      const helloMessage = await nextMessage();
      expect(helloMessage.binary).toBe(false);
      const hello = JSON.parse(String(helloMessage.data)) as Record<string, string>;
      expect(hello.server_key).toBe(serverKey);
      const transcript = [...Buffer.from("clawbot-sm-link/1", "ascii"), ...bytes(ephemeral.publicKey), ...bytes(random), ...bytes(hello.key as string), ...bytes(hello.random as string), ...bytes(serverKey)];
      expect(transcript.length).toBe(276);
      expect(sm2.doVerifySignature(transcript, hello.signature as string, serverKey, { hash: true, userId: "1234567812345678" })).toBe(true);
      const point = smUtils.getGlobalCurve().decodePointHex(hello.key as string).multiply(new BigInteger(ephemeral.privateKey, 16));
      const sharedX = bytes(point.getX().toBigInteger().toString(16).padStart(64, "0"));
      const keys = kdf([...sharedX, ...sm3Bytes(transcript)], 56);
      const send = new Direction(keys.slice(0, 16), keys.slice(32, 44), 1);
      const receive = new Direction(keys.slice(16, 32), keys.slice(44, 56), 2);
      const nextFrame = async () => {
        const message = await nextMessage();
        expect(message.binary).toBe(true);
        return JSON.parse(receive.open(message.data)) as Record<string, unknown>;
      };

      socket.send(send.seal(JSON.stringify({ type: "auth", token: await node.token("interop") })));
      expect(await nextFrame()).toMatchObject({ type: "authenticated", subject: "interop" });
      socket.send(send.seal(JSON.stringify({ type: "chat", id: "i1", message: "hello over SM4-GCM 你好" })));
      let text = "";
      for (;;) {
        const frame = await nextFrame();
        expect(frame.id).toBe("i1");
        if (frame.type === "text-delta") text += String(frame.text);
        else {
          expect(frame.type).toBe("finish");
          expect(frame.text).toBe(text);
          break;
        }
      }
      expect(text).toContain("hello over SM4-GCM 你好");
      socket.send(send.seal(JSON.stringify({ type: "ping" })));
      expect(await nextFrame()).toEqual({ type: "pong" });
    } finally {
      socket.close();
    }
  });
});
