// Fuzzes the tcp-ndjson example adapter (examples/gateways/tcp-ndjson.ts) loaded as a custom gateway of a real node.
import net from "node:net";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseClientFrame } from "../../src/gateways/frames.js";
import { freePort, repositoryRoot } from "../helpers/cli-process.js";
import { expectWebsocketServed, type HostileNode } from "../helpers/hostile-node.js";
import { badUtf8Arbitrary, frameTextArbitrary, serverFrameProblem, type TokenSet } from "./hostile-inputs.js";
import { useHostileNode } from "./use-hostile-node.js";

const maxLine = 16 * 1024;

let node: HostileNode;
let tokens: TokenSet;
let tcpPort: number;

useHostileNode(
  async () => {
    tcpPort = await freePort();
    const adapter = { type: "custom", protocol: "tcp-ndjson", path: path.join(repositoryRoot, "examples", "gateways", "tcp-ndjson.ts"), port: tcpPort, max_line: maxLine, auth: { type: "jwt", secret: "${secret}" } };
    return { gateways: [adapter], agent: { max_tokens: 16 } };
  },
  (started, startedTokens) => ([node, tokens] = [started, startedTokens]),
);

/** Writes lines after an auth line and a closing ping; collects the frames until the pong and every chat's end, or the close. */
async function runLines(lines: Buffer[]): Promise<{ frames: Record<string, unknown>[]; problems: string[]; closed: boolean }> {
  const socket = net.connect(tcpPort, "127.0.0.1");
  const frames: Record<string, unknown>[] = [];
  const problems: string[] = [];
  let closed = false;
  const chats = new Set(lines.flatMap((line) => {
    if (line.length > maxLine) return [];
    const parsed = parseClientFrame(line.toString("utf8"));
    return "frame" in parsed && parsed.frame.type === "chat" ? [parsed.frame.id] : [];
  }));
  const pings = 1 + lines.filter((line) => {
    const parsed = parseClientFrame(line.toString("utf8"));
    return line.length <= maxLine && "frame" in parsed && parsed.frame.type === "ping";
  }).length;
  await new Promise<void>((resolve) => {
    let buffer = "";
    const timer = setTimeout(() => {
      problems.push(`no pong within 15 s; frames ${JSON.stringify(frames).slice(0, 400)}`);
      resolve();
    }, 15_000);
    const finish = () => {
      clearTimeout(timer);
      resolve();
    };
    socket.on("error", () => undefined);
    socket.on("close", () => {
      closed = true;
      finish();
    });
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      for (let newline = buffer.indexOf("\n"); newline >= 0; newline = buffer.indexOf("\n")) {
        const text = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        try {
          const frame = JSON.parse(text) as Record<string, unknown>;
          frames.push(frame);
          const problem = serverFrameProblem(frame);
          if (problem) problems.push(problem);
        } catch {
          problems.push(`a line that is not JSON: ${text.slice(0, 200)}`);
        }
      }
      const ended = new Set(frames.filter((frame) => frame.type === "finish" || frame.type === "error").map((frame) => frame.id));
      if (frames.filter((frame) => frame.type === "pong").length >= pings && [...chats].every((id) => ended.has(id))) finish();
    });
    socket.on("connect", () => {
      socket.write(`${JSON.stringify({ type: "auth", token: tokens.valid })}\n`);
      for (const line of lines) socket.write(Buffer.concat([line, Buffer.from("\n")]));
      socket.write(`${JSON.stringify({ type: "ping" })}\n`);
    });
  });
  socket.destroy();
  return { frames, problems, closed };
}

describe("hostile tcp-ndjson clients", () => {
  it("answers every generated line with a coded error or a valid answer, and stays up", async () => {
    const line = fc.oneof(
      { weight: 8, arbitrary: frameTextArbitrary("t", tokens).map((text) => Buffer.from(text.replace(/\n/g, " "))) },
      { weight: 1, arbitrary: badUtf8Arbitrary.map((bytes) => Buffer.concat([Buffer.from('{"type":"chat","id":"u8","message":"'), bytes, Buffer.from('"}')])) },
      { weight: 1, arbitrary: fc.integer({ min: maxLine + 1, max: 3 * maxLine }).map((size) => Buffer.alloc(size, 0x7b)) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 100 }).map((bytes) => Buffer.from(bytes.filter((byte) => byte !== 0x0a))) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 5 }), async (lines) => {
        const result = await runLines(lines);
        const context = `sent ${JSON.stringify(lines.map((part) => part.subarray(0, 150).toString("latin1")))}; got ${JSON.stringify(result.frames).slice(0, 500)}`;
        expect(await node.stillAliveAfter(result.problems.length > 0 || result.closed ? 300 : 0), `the node exited: ${context}\n${node.cli.describe().slice(-3000)}`).toBe(true);
        expect(result.problems, context).toEqual([]);
        // An auth line with a bad token ends the connection (after its coded error); otherwise each refused line gets an error.
        const refused = lines.filter((part) => part.length > maxLine || (part.length > 0 && part.toString("utf8").trim() !== "" && "error" in parseClientFrame(part.toString("utf8")))).length;
        if (!result.closed) expect(result.frames.filter((frame) => frame.type === "error").length, context).toBeGreaterThanOrEqual(refused);
      }),
      { numRuns: 200, endOnFailure: true },
    );
    await expectWebsocketServed(node);
  });
});
