// Fuzzes node-side tools over WebSocket on a real node (echo engine, the ward-tools plugin): generated tool_choice and
// agent values, clients that answer approvals rightly, wrongly, late or not at all, and clients that leave while asked.
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { HostileNode } from "../helpers/hostile-node.js";
import { agentArbitrary, serverFrameProblem, toolChoiceArbitrary, type TokenSet } from "./hostile-inputs.js";
import { useHostileNode } from "./use-hostile-node.js";

const wardTools = path.resolve("test/fixtures/plugins/ward-tools-plugin.ts");
const approvalTimeoutSeconds = 0.5;

let node: HostileNode;
let tokens: TokenSet;

useHostileNode(
  () => ({ agent: { max_tokens: 32 }, config: { plugins: [{ path: wardTools }], tools: { approval_timeout: approvalTimeoutSeconds } } }),
  (started, startedTokens) => ([node, tokens] = [started, startedTokens]),
);

type Frame = Record<string, unknown> & { type?: unknown; id?: unknown };
type Call = { id: string; name: string; arguments: string };

/** What the client does when asked to approve a call. */
type Reaction = "approve" | "deny" | "wrong-call" | "wrong-id" | "malformed" | "silent" | "disconnect";

interface Ask {
  id: string;
  message: string;
  params: Record<string, unknown>;
  /** One per approval asked for this request, in order; the last one repeats. */
  reactions: Reaction[];
}

const messageArbitrary = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'free_beds {"ward":"ward-1"}',
      'free_beds {"ward":"nowhere"}',
      'page_doctor {"ward":"icu","message":"bed 4"}',
      'page_doctor {"ward":"icu"}',
      'page_doctor {"ward":"icu","message":"' + "x".repeat(300) + '"}',
      "please page_doctor and free_beds",
      "hello",
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);

/** Mostly the page_doctor tool (it asks for approval), else any generated choice. */
const choiceArbitrary = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom({ name: "page_doctor" }, { type: "function", function: { name: "page_doctor" } }, "required") },
  { weight: 2, arbitrary: toolChoiceArbitrary },
);

function askArbitrary(index: number): fc.Arbitrary<Ask> {
  return fc
    .record({
      message: messageArbitrary,
      choice: fc.option(choiceArbitrary, { nil: undefined }),
      agent: fc.option(agentArbitrary, { freq: 4, nil: undefined }),
      reactions: fc.array(fc.constantFrom<Reaction>("approve", "approve", "deny", "wrong-call", "wrong-id", "malformed", "silent", "disconnect"), { minLength: 1, maxLength: 3 }),
    })
    .map(({ message, choice, agent, reactions }) => ({
      id: `t-${index}`,
      message,
      params: { ...(choice !== undefined ? { tool_choice: choice } : {}), ...(agent !== undefined ? { agent } : {}) },
      reactions,
    }));
}

interface Outcome {
  frames: Frame[];
  problems: string[];
  /** Calls the client approved, and the tool.approve frames it sent that match no waiting call. */
  approved: Set<string>;
  refusalsExpected: number;
  disconnected: boolean;
  closeCode?: number;
}

/** Sends the chats, reacts to each tool-approval frame, and resolves once every chat ended (or the client left). */
async function runAsks(asks: Ask[]): Promise<Outcome> {
  const socket = new WebSocket(node.wsUrl, { headers: { authorization: `Bearer ${tokens.valid}` } });
  const outcome: Outcome = { frames: [], problems: [], approved: new Set(), refusalsExpected: 0, disconnected: false };
  const asked = new Map<string, number>();
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      outcome.problems.push(`not every chat ended within 20 s: ${JSON.stringify(outcome.frames).slice(0, 600)}`);
      resolve();
    }, 20_000);
    let finished = false;
    const done = () => {
      finished = true;
      clearTimeout(timer);
      resolve();
    };
    const ended = () => new Set(outcome.frames.filter((frame) => frame.type === "finish" || frame.type === "error").map((frame) => frame.id));
    socket.on("error", () => undefined);
    socket.on("open", () => {
      for (const ask of asks) socket.send(JSON.stringify({ type: "chat", id: ask.id, message: ask.message, params: ask.params }));
    });
    socket.on("close", (code) => {
      if (finished) return;
      outcome.closeCode = code;
      done();
    });
    socket.on("message", (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      outcome.frames.push(frame);
      const problem = serverFrameProblem(frame);
      if (problem) outcome.problems.push(problem);
      if (frame.type === "tool-approval") react(frame);
      const over = ended();
      if (frame.type !== "pong" && asks.every((ask) => over.has(ask.id))) {
        // Refusals of wrong approvals come at once; a ping after them makes sure they are all in.
        socket.send(JSON.stringify({ type: "ping" }));
      }
      if (frame.type === "pong" && asks.every((ask) => over.has(ask.id))) done();
    });
    const react = (frame: Frame) => {
      const ask = asks.find((candidate) => candidate.id === frame.id);
      if (!ask) return void outcome.problems.push(`a tool-approval for a request never sent: ${JSON.stringify(frame)}`);
      const count = asked.get(ask.id) ?? 0;
      asked.set(ask.id, count + 1);
      const reaction = ask.reactions[Math.min(count, ask.reactions.length - 1)] as Reaction;
      const call = frame.call as Call;
      const approve = (fields: Record<string, unknown>) => socket.send(JSON.stringify({ type: "tool.approve", id: ask.id, call_id: call.id, approved: true, ...fields }));
      switch (reaction) {
        case "approve":
          outcome.approved.add(call.id);
          return approve({});
        case "deny":
          return approve({ approved: false });
        case "wrong-call":
          outcome.refusalsExpected += 1;
          return approve({ call_id: `${call.id}-other` });
        case "wrong-id":
          outcome.refusalsExpected += 1;
          return approve({ id: `${ask.id}-other` });
        case "malformed":
          outcome.refusalsExpected += 1;
          return approve({ approved: "yes" });
        case "silent":
          return;
        case "disconnect":
          outcome.disconnected = true;
          socket.terminate();
          return done();
      }
    };
  });
  socket.terminate();
  return outcome;
}

/** The frames of one request: tool results follow their calls, approvals sit between, one terminal frame ends it. */
function requestProblems(frames: Frame[], id: string, approved: Set<string>, disconnected: boolean): string[] {
  const own = frames.filter((frame) => frame.id === id);
  const problems: string[] = [];
  const terminal = own.findIndex((frame) => frame.type === "finish" || frame.type === "error");
  if (terminal < 0 && !disconnected) problems.push(`${id}: no finish or error`);
  if (terminal >= 0 && terminal !== own.length - 1) problems.push(`${id}: frames after its end`);
  const open = new Map<string, { name: string; asked: boolean }>();
  for (const frame of own) {
    if (frame.type === "tool-call") {
      const call = frame.call as Call;
      if (open.size > 0) problems.push(`${id}: a tool-call while another call is unanswered`);
      open.set(call.id, { name: call.name, asked: false });
    } else if (frame.type === "tool-approval") {
      const call = frame.call as Call;
      const entry = open.get(call.id);
      if (!entry || entry.asked) problems.push(`${id}: a tool-approval without its tool-call, or twice`);
      else entry.asked = true;
      if ((frame.timeout_ms as number) !== approvalTimeoutSeconds * 1000) problems.push(`${id}: timeout_ms ${String(frame.timeout_ms)}`);
    } else if (frame.type === "tool-result") {
      const callId = String(frame.call_id);
      const entry = open.get(callId);
      if (!entry) problems.push(`${id}: a tool-result without its tool-call`);
      // A call that needed approval ran only when the client approved it.
      if (entry?.asked && frame.outcome === "ok" && !approved.has(callId)) problems.push(`${id}: ${entry.name} ran without approval`);
      if (entry && !entry.asked && entry.name === "page_doctor" && frame.outcome === "ok") problems.push(`${id}: page_doctor ran without being asked about`);
      open.delete(callId);
    } else if ((frame.type === "text-delta" || frame.type === "finish") && open.size > 0) {
      problems.push(`${id}: the answer went on before the tool's result`);
    }
  }
  return problems;
}

/** A well-behaved client gets free_beds run and its answer, and page_doctor approved and run. */
async function expectToolsServed(): Promise<void> {
  node.assertAlive("before the normal tools client");
  const socket = new WebSocket(node.wsUrl, { headers: { authorization: `Bearer ${await node.token("normal-user")}` } });
  const frames: Frame[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answers within 30 s: ${JSON.stringify(frames).slice(0, 800)}`)), 30_000);
      socket.once("error", reject);
      socket.once("close", (code) => reject(new Error(`closed with ${code}`)));
      socket.once("open", () => {
        socket.send(JSON.stringify({ type: "chat", id: "beds", message: 'free_beds {"ward":"icu"}', params: { tool_choice: "required" } }));
        socket.send(JSON.stringify({ type: "chat", id: "page", message: 'page {"ward":"icu","message":"ok"}', params: { tool_choice: { name: "page_doctor" } } }));
      });
      socket.on("message", (data) => {
        const frame = JSON.parse(String(data)) as Frame;
        frames.push(frame);
        if (frame.type === "tool-approval") socket.send(JSON.stringify({ type: "tool.approve", id: frame.id, call_id: (frame.call as Call).id, approved: true }));
        const ended = frames.filter((received) => received.type === "finish" || received.type === "error").map((received) => received.id);
        if (ended.includes("beds") && ended.includes("page")) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const result = (id: string) => frames.find((frame) => frame.id === id && frame.type === "tool-result");
    expect(result("beds"), JSON.stringify(frames)).toMatchObject({ outcome: "ok", content: '{"ward":"icu","free":1}' });
    expect(result("page"), JSON.stringify(frames)).toMatchObject({ outcome: "ok", content: "paged icu for normal-user: ok" });
    expect(frames.filter((frame) => frame.type === "finish").map((frame) => frame.id).sort()).toEqual(["beds", "page"]);
  } catch (error) {
    throw new Error(`a normal tools client was not served: ${(error as Error).message}\n${node.cli.describe().slice(-4000)}`);
  } finally {
    socket.terminate();
  }
}

describe("hostile tool clients over WebSocket", () => {
  it("answers generated tool choices and approvals with tool frames in order, coded errors, and no unapproved run", async () => {
    const asks = fc.integer({ min: 1, max: 3 }).chain((count) => fc.tuple(...Array.from({ length: count }, (_, index) => askArbitrary(index))));
    await fc.assert(
      fc.asyncProperty(asks, async (generated) => {
        const outcome = await runAsks(generated);
        const context = `sent ${JSON.stringify(generated).slice(0, 800)}; got ${JSON.stringify(outcome.frames).slice(0, 1200)} close ${outcome.closeCode}`;
        expect(await node.stillAliveAfter(outcome.problems.length > 0 ? 300 : 0), `the node exited: ${context}\n${node.cli.describe().slice(-3000)}`).toBe(true);
        expect(outcome.problems, context).toEqual([]);
        if (!outcome.disconnected) expect(outcome.closeCode, context).toBeUndefined();
        for (const ask of generated) expect(requestProblems(outcome.frames, ask.id, outcome.approved, outcome.disconnected), context).toEqual([]);
        if (!outcome.disconnected) {
          // Each tool.approve that matched no waiting call got its own error frame, with id null.
          const refusals = outcome.frames.filter((frame) => frame.type === "error" && frame.id === null);
          expect(refusals.length, context).toBe(outcome.refusalsExpected);
          for (const refusal of refusals) expect(["not_found", "bad_request"], context).toContain(refusal.code);
        }
      }),
      { numRuns: 60, endOnFailure: true },
    );
    await expectToolsServed();
  });

  it("keeps serving after clients leave while their calls wait for approval", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.constantFrom("terminate", "close"), async (pending, leave) => {
        const socket = new WebSocket(node.wsUrl, { headers: { authorization: `Bearer ${tokens.valid}` } });
        socket.on("error", () => undefined);
        const approvals: Frame[] = [];
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`asked ${approvals.length} of ${pending} approvals within 15 s`)), 15_000);
          socket.once("open", () => {
            for (let index = 0; index < pending; index += 1) {
              socket.send(JSON.stringify({ type: "chat", id: `wait-${index}`, message: 'page {"ward":"icu","message":"x"}', params: { tool_choice: { name: "page_doctor" } } }));
            }
          });
          socket.on("message", (data) => {
            const frame = JSON.parse(String(data)) as Frame;
            if (frame.type === "tool-approval") approvals.push(frame);
            if (approvals.length === pending) {
              clearTimeout(timer);
              resolve();
            }
          });
        });
        if (leave === "terminate") socket.terminate();
        else socket.close();
        expect(await node.stillAliveAfter(0), `the node exited\n${node.cli.describe().slice(-3000)}`).toBe(true);
      }),
      { numRuns: 20, endOnFailure: true },
    );
    await expectToolsServed();
  });
});
