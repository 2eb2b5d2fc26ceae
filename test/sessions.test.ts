// Sessions: history is kept per principal and session id, survives a restart, and is trimmed oldest-first to fit.
import { describe, expect, it } from "vitest";
import { startTestNode } from "./helpers/test-node.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

describe("sessions", () => {
  it("survive a restart of the node (real model)", async () => {
    const first = await startTestNode({ agent: { system_prompt: "A story." } });
    const client = await WsTestClient.connect(first.wsUrl, { token: await first.token() });
    const turn1 = await client.chat("t1", "Once upon a time", { max_tokens: 16 }, "story");
    expect(turn1.end.type).toBe("finish");
    client.close();
    await first.close();

    const second = await startTestNode({ dataDir: first.dataDir, agent: { system_prompt: "A story." } });
    const history = second.daemon.sessions.history("alice", "story");
    expect(history).toEqual([
      { role: "user", content: "Once upon a time" },
      { role: "assistant", content: turn1.end.text },
    ]);
    const again = await WsTestClient.connect(second.wsUrl, { token: await second.token() });
    const turn2 = await again.chat("t2", "The end.", { max_tokens: 8 }, "story");
    // The prompt of turn 2 holds the system prompt, turn 1 and its answer: more tokens than turn 2 alone.
    const turn2Alone = await again.chat("t2-alone", "The end.", { max_tokens: 8 });
    expect((turn2.end.usage as { prompt_tokens: number }).prompt_tokens).toBeGreaterThan(
      (turn2Alone.end.usage as { prompt_tokens: number }).prompt_tokens + 16,
    );
    again.close();
    await second.close();
  });

  it("are private to their owner, and the echo engine shows the exact prompt with history", async () => {
    const node = await startTestNode({ agent: { engine: "echo", system_prompt: "SYSTEM" } });
    const alice = await WsTestClient.connect(node.wsUrl, { token: await node.token("alice") });
    const bob = await WsTestClient.connect(node.wsUrl, { token: await node.token("bob") });
    await alice.chat("a1", "first question", {}, "shared-name");
    const second = await alice.chat("a2", "second question", {}, "shared-name");
    // The answer continues its question directly (as a base model writes it); other turns start a new line.
    expect(second.end.text).toBe(`SYSTEM\nfirst questionSYSTEM\nfirst question\nsecond question`);
    const bobs = await bob.chat("b1", "bob asks", {}, "shared-name");
    expect(bobs.end.text).toBe("SYSTEM\nbob asks");
    alice.close();
    bob.close();
    await node.close();
  });

  it("drop the oldest exchanges first when the history outgrows the context, keeping the system prompt", async () => {
    const node = await startTestNode({ agent: { engine: "echo", system_prompt: "SYSTEM", context_size: 64, max_tokens: 16 } });
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    for (let turn = 0; turn < 6; turn += 1) {
      const { end } = await client.chat(`turn-${turn}`, `question number ${turn} with some extra words`, { max_tokens: 1 }, "long");
      expect(end.type).toBe("finish");
    }
    const last = await client.chat("last", "final", { max_tokens: 64 }, "long");
    const text = String(last.end.text);
    expect(text.startsWith("SYSTEM\n")).toBe(true);
    expect(text.endsWith("final")).toBe(true);
    expect(text).not.toContain("question number 0");
    expect(text).toContain("question number 5");
    client.close();
    await node.close();
  });
});
