// An independent client, written here from docs/protocol.md "Encrypted link (SM)" on sm-crypto (not the project's module), chats over the encrypted link.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { block, bytes, fromBig, gcm, kdf, sharedX, sm2, sm3Bytes, toBig } from "./helpers/independent-sm.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

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
      const keys = kdf([...sharedX(ephemeral.privateKey, hello.key as string), ...sm3Bytes(transcript)], 56);
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
