// Context reuse: follow-up turns evaluate only their new tokens, and a reused state answers exactly like a fresh one.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNode, type TestNode } from "./helpers/test-node.js";
import { WsTestClient, type Frame } from "./helpers/ws-test-client.js";

const systemPrompt = "This is a story for small children about friends who play in the park.";
const turns = ["Once upon a time", "The little dog ran", "Then the sun came out", "They all went home"];

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  cached_prompt_tokens: number;
}

async function converse(node: TestNode, session: string): Promise<Frame[]> {
  const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
  const ends: Frame[] = [];
  for (const [index, message] of turns.entries()) ends.push((await client.chat(`${session}-${index}`, message, { max_tokens: 40 }, session)).end);
  client.close();
  return ends;
}

describe("context reuse", () => {
  let reusing: TestNode;
  let fresh: TestNode;

  beforeAll(async () => {
    reusing = await startTestNode({ agent: { parallel: 2, system_prompt: systemPrompt } });
    fresh = await startTestNode({ agent: { parallel: 2, system_prompt: systemPrompt, context_reuse: false } });
  });
  afterAll(async () => {
    await reusing?.close();
    await fresh?.close();
  });

  it("evaluates only what is new in each follow-up turn, and answers exactly as a fresh evaluation does", async () => {
    const withReuse = await converse(reusing, "story-a");
    const without = await converse(fresh, "story-a");
    expect(withReuse.map((end) => end.text)).toEqual(without.map((end) => end.text));
    for (const end of without) expect((end.usage as Usage).cached_prompt_tokens).toBe(0);
    for (const [index, end] of withReuse.entries()) {
      if (index === 0) continue;
      const usage = end.usage as Usage;
      const previous = withReuse[index - 1]?.usage as Usage;
      // Everything the previous turn put into the sequence (its prompt and nearly all of its answer) is reused.
      expect(usage.cached_prompt_tokens).toBeGreaterThanOrEqual(previous.prompt_tokens + previous.completion_tokens - 4);
      expect(usage.prompt_tokens - usage.cached_prompt_tokens).toBeLessThan(20);
    }
  });

  it("evaluates the system prompt once per sequence, not once per request", async () => {
    const client = await WsTestClient.connect(reusing.wsUrl, { token: await reusing.token("bob") });
    const first = (await client.chat("sys-1", "A cat", { max_tokens: 4 }, "bob-1")).end;
    const second = (await client.chat("sys-2", "A frog", { max_tokens: 4 }, "bob-2")).end;
    client.close();
    expect((first.usage as Usage).prompt_tokens).toBeGreaterThan(15);
    // A different session, different question: the shared system prompt is already in a sequence.
    expect((second.usage as Usage).cached_prompt_tokens).toBeGreaterThanOrEqual(15);
  });

  it("hands a session back the sequence that holds its conversation while another session runs", async () => {
    const alice = await WsTestClient.connect(reusing.wsUrl, { token: await reusing.token("alice") });
    const carol = await WsTestClient.connect(reusing.wsUrl, { token: await reusing.token("carol") });
    await alice.chat("a1", "Tom had a red ball", { max_tokens: 30 }, "alice-story");
    await carol.chat("c1", "The big bird flew", { max_tokens: 30 }, "carol-story");
    const followUp = (await alice.chat("a2", "He threw it high", { max_tokens: 10 }, "alice-story")).end.usage as Usage;
    expect(followUp.prompt_tokens - followUp.cached_prompt_tokens).toBeLessThan(20);
    alice.close();
    carol.close();
  });
});

describe("context reuse when history is trimmed", () => {
  it("shifts the dropped exchanges out of the sequence and keeps the rest, so a turn after a trim reads only what is new", async () => {
    const node = await startTestNode({ agent: { parallel: 1, context_size: 256, max_tokens: 24, system_prompt: "A story." } });
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    const ends: Frame[] = [];
    for (let turn = 0; turn < 16; turn += 1) {
      const { end } = await client.chat(`t${turn}`, `Then the friends played game number ${turn} in the park`, {}, "long-story");
      expect(end.type).toBe("finish");
      ends.push(end);
    }
    client.close();
    await node.close();
    const usages = ends.map((end) => end.usage as Usage);
    // Turns whose prompt is shorter than the one before: the pipeline dropped the oldest exchanges.
    const trims = usages.flatMap((usage, index) => (index > 0 && usage.prompt_tokens < (usages[index - 1] as Usage).prompt_tokens ? [index] : []));
    expect(trims.length).toBeGreaterThanOrEqual(2);
    // Every turn after the first, trimmed or not, evaluates only the new message and the last answer's tail.
    for (const usage of usages.slice(1)) expect(usage.prompt_tokens - usage.cached_prompt_tokens).toBeLessThan(40);
    for (const index of trims) expect((usages[index] as Usage).cached_prompt_tokens).toBeGreaterThan((usages[index] as Usage).prompt_tokens / 2);
    // Greedy answers after a shift are still the model's text (not the same as a fresh evaluation's: positions moved).
    for (const index of trims) expect(String(ends[index]?.text)).toMatch(/[A-Za-z]{2,}/);
  });
});

describe("saved conversation states (persist_state)", () => {
  it("resumes a conversation after a restart without evaluating its history again, with the same answer", async () => {
    const agent = { parallel: 1, system_prompt: systemPrompt, persist_state: true };
    const first = await startTestNode({ agent });
    let client = await WsTestClient.connect(first.wsUrl, { token: await first.token() });
    const turn1 = (await client.chat("p1", "Once upon a time", { max_tokens: 40 }, "kept")).end;
    client.close();
    await first.close();

    const second = await startTestNode({ agent, dataDir: first.dataDir });
    client = await WsTestClient.connect(second.wsUrl, { token: await second.token() });
    const turn2 = (await client.chat("p2", "The little dog ran", { max_tokens: 40 }, "kept")).end;
    client.close();
    await second.close();

    const usage1 = turn1.usage as Usage;
    const usage2 = turn2.usage as Usage;
    expect(usage2.cached_prompt_tokens).toBeGreaterThanOrEqual(usage1.prompt_tokens + usage1.completion_tokens - 8);

    // The same two turns on a node that evaluates everything from scratch give the same text.
    const reference = await startTestNode({ agent: { parallel: 1, system_prompt: systemPrompt, context_reuse: false } });
    client = await WsTestClient.connect(reference.wsUrl, { token: await reference.token() });
    await client.chat("r1", "Once upon a time", { max_tokens: 40 }, "kept");
    const expected = (await client.chat("r2", "The little dog ran", { max_tokens: 40 }, "kept")).end;
    client.close();
    await reference.close();
    expect(turn2.text).toBe(expected.text);
  });

  it("keeps saved states within the disk budget", async () => {
    const agent = { parallel: 2, persist_state: true, persist_state_max_mb: 0.000001 };
    const node = await startTestNode({ agent });
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    await client.chat("b1", "Once upon a time", { max_tokens: 8 }, "budget");
    client.close();
    await node.close();
    const directory = path.join(node.dataDir, "sequence-states");
    expect(fs.readdirSync(directory)).toEqual([]);
  });
});
