// `clawbot report cost` through the real CLI against the audit ledger of a node that served real-model requests (WebSocket and the openai client).
import fs from "node:fs";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { killAll, removeTempDirs, runCli, sandboxEnv, tempDir } from "./helpers/cli-process.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

interface Totals {
  requests: number;
  failed: number;
  prompt: number;
  completion: number;
  total: number;
  cost: number;
}
interface Report {
  currency: string;
  totals: Totals;
  by_month: (Totals & { month: string })[];
  by_gateway: (Totals & { gateway: string })[];
  by_model: (Totals & { model: string })[];
}

let node: TestNode;
let root: string;
let configFile: string;
/** What the clients were told they used, summed. */
const served = { requests: 0, prompt: 0, completion: 0, byGateway: new Map<string, number>() };

beforeAll(async () => {
  node = await startTestNode();
  const openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token(), maxRetries: 0 });
  for (const [index, maxTokens] of [12, 30, 7].entries()) {
    const completion = await openai.chat.completions.create({ model: "stories260K", messages: [{ role: "user", content: `Tell a story number ${index}` }], max_tokens: maxTokens });
    served.requests += 1;
    served.prompt += completion.usage!.prompt_tokens;
    served.completion += completion.usage!.completion_tokens;
  }
  const client = await WsTestClient.connect(node.wsUrl, { token: await node.token("bob") });
  for (const id of ["w1", "w2"]) {
    const { end } = await client.chat(id, "Once upon a time", { max_tokens: 20 });
    expect(end.type).toBe("finish");
    const usage = end.usage as { prompt_tokens: number; completion_tokens: number };
    served.requests += 1;
    served.prompt += usage.prompt_tokens;
    served.completion += usage.completion_tokens;
  }
  client.close();
  root = tempDir("clawbot-cost-");
  configFile = path.join(root, "clawbot.yaml");
  fs.writeFileSync(configFile, JSON.stringify({ agent: { data_dir: node.dataDir } }));
}, 120_000);

afterEach(async () => {
  await killAll();
});

afterAll(async () => {
  await node?.close();
  removeTempDirs();
});

const cost = (args: string[]) => runCli(["report", "cost", "--config", configFile, ...args], { cwd: root, env: sandboxEnv(root) });

describe("clawbot report cost", () => {
  it("totals the tokens the clients were told they used, and prices them (one price, then separate input and output prices)", async () => {
    expect(served.completion).toBeGreaterThan(0);
    const result = await cost(["--price-per-1k", "0.002", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.totals).toMatchObject({ requests: served.requests, failed: 0, prompt: served.prompt, completion: served.completion, total: served.prompt + served.completion });
    expect(report.totals.cost).toBeCloseTo(((served.prompt + served.completion) * 0.002) / 1000, 12);
    expect(report.currency).toBe("USD");
    expect(report.by_month).toHaveLength(1);
    expect(report.by_month[0]).toMatchObject({ month: new Date().toISOString().slice(0, 7), requests: served.requests });
    expect(report.by_gateway.map((group) => [group.gateway, group.requests]).sort()).toEqual([
      ["http", 3],
      ["websocket", 2],
    ]);
    expect(report.by_model).toHaveLength(1);
    expect(report.by_model[0]!.completion).toBe(served.completion);

    const split = JSON.parse((await cost(["--price-per-1k", "0.002", "--input-price-per-1k", "0.0005", "--currency", "cny", "--json"])).stdout) as Report;
    expect(split.currency).toBe("CNY");
    expect(split.totals.cost).toBeCloseTo((served.prompt * 0.0005 + served.completion * 0.002) / 1000, 12);
  });

  it("prints a table with the month and the totals", async () => {
    const result = await cost(["--price-per-1k", "2"]);
    expect(result.code, result.stderr).toBe(0);
    const total = served.prompt + served.completion;
    const money = ((total * 2) / 1000).toFixed((total * 2) / 1000 >= 0.01 ? 2 : 6);
    expect(result.stdout).toMatch(/^month\s+requests\s+failed\s+prompt\s+completion\s+total\s+cost \(USD\)$/m);
    expect(result.stdout).toMatch(new RegExp(`^total\\s+${served.requests}\\s+0\\s+${served.prompt}\\s+${served.completion}\\s+${total}\\s+${money.replace(".", "\\.")}$`, "m"));
    expect(result.stdout).toMatch(new RegExp(`^${new Date().toISOString().slice(0, 7)}\\s+${served.requests}\\s`, "m"));
    expect(result.stdout).toContain("still carry their token counts");
  });

  it("counts nothing from tomorrow on, and only what lies in a past range", async () => {
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const later = JSON.parse((await cost(["--price-per-1k", "0.002", "--since", tomorrow, "--json"])).stdout) as Report;
    expect(later.totals).toMatchObject({ requests: 0, prompt: 0, completion: 0, cost: 0 });
    expect(later.by_month).toEqual([]);
    const before = JSON.parse((await cost(["--price-per-1k", "0.002", "--since", "2020-01-01", "--until", "2020-02-01", "--json"])).stdout) as Report;
    expect(before.totals.requests).toBe(0);
  });

  it("exits 2 on bad flags and 1 when the ledger is off", async () => {
    const badFlags = [
      ["--price-per-1k", "-1"],
      ["--price-per-1k", "abc"],
      ["--price-per-1k", "0.002", "--input-price-per-1k", "1e-3x"],
      [],
      ["--price-per-1k", "0.002", "--since", "2026-03-02", "--until", "2026-03-01"],
      ["--price-per-1k", "0.002", "--since", "yesterday"],
      ["--price-per-1k", "0.002", "--currency", "dollars"],
    ];
    // In parallel: each is a whole CLI start, and they are independent.
    const results = await Promise.all(badFlags.map((args) => cost(args)));
    results.forEach((result, index) => {
      expect(result.code, `${badFlags[index]!.join(" ")}: ${result.stdout}${result.stderr}`).toBe(2);
      expect(result.stderr.trim()).not.toBe("");
    });
    const off = path.join(root, "audit-off.yaml");
    fs.writeFileSync(off, JSON.stringify({ agent: { data_dir: node.dataDir }, audit: { enabled: false } }));
    const result = await runCli(["report", "cost", "--config", off, "--price-per-1k", "0.002"], { cwd: root, env: sandboxEnv(root) });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("no audit ledger");
  });
});
