// MCP tools end to end through a node started from config (echo engine, the stdio MCP fixture): a WebSocket chat and
// the openai client each get `local.add` run by the node inside the request.
import path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNode, type TestNode } from "./helpers/test-node.js";
import { WsTestClient, type Frame } from "./helpers/ws-test-client.js";

const stdioServer = path.resolve("test/fixtures/mcp-stdio-server.mjs");
const addChoice = { type: "function", function: { name: "local.add" } } as const;

describe("MCP server tools through a node (echo engine, stdio server `local`)", () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await startTestNode({
      agent: { engine: "echo" },
      tools: { mcp_servers: [{ name: "local", command: process.execPath, args: [stdioServer] }] },
    });
    // The server connects in the background; its tools are offered once it has.
    const deadline = Date.now() + 20_000;
    while (!node.daemon.tools.find("local.add")) {
      if (Date.now() > deadline) throw new Error(`the MCP server never connected: ${JSON.stringify(node.daemon.tools.servers())}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  afterAll(async () => {
    await node?.close();
  });

  it("a WebSocket chat naming local.add gets its call, the result 5, then the answer that read it", async () => {
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token("alice") });
    try {
      const { end } = await client.chat("add", 'Add these: {"a": 2, "b": 3}', { tool_choice: addChoice });
      const frames = client.frames.filter((frame) => frame.id === "add");
      const call = frames.find((frame) => frame.type === "tool-call") as Frame & { call: { id: string; name: string; arguments: string } };
      expect(call.call).toMatchObject({ name: "local.add" });
      expect(JSON.parse(call.call.arguments)).toEqual({ a: 2, b: 3 });
      const result = frames.find((frame) => frame.type === "tool-result");
      expect(result).toMatchObject({ call_id: call.call.id, name: "local.add", outcome: "ok", content: "5" });
      expect(frames.indexOf(call)).toBeLessThan(frames.indexOf(result as Frame));
      expect(end).toMatchObject({ type: "finish", finish_reason: "stop" });
      // The echo engine's second step echoes its prompt: the server's result went back to the model.
      expect(String(end.text)).toContain("<tool_response>\n5\n</tool_response>");
    } finally {
      client.close();
    }
  });

  it("the openai client's request runs local.add on the node: the answer holds the result, no call comes back", async () => {
    const openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token("bob"), maxRetries: 0 });
    const completion = await openai.chat.completions.create({
      model: "echo",
      messages: [{ role: "user", content: 'Add these: {"a": 2, "b": 3}' }],
      tool_choice: addChoice,
    });
    const choice = completion.choices[0];
    expect(choice?.finish_reason).toBe("stop");
    expect(choice?.message.tool_calls).toBeUndefined();
    expect(choice?.message.content).toContain("<tool_response>\n5\n</tool_response>");
  });
});
