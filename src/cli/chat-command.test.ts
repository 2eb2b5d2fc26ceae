// `clawbot chat` against a fake gateway (piped stdin: one answer per line, exit codes, one-line errors; Ctrl-C on a
// terminal), and against a real node with a plugin's tools (tool steps on stderr, approval asked on a terminal only).
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "commander";
import { startFakeChatServer, type FakeChatServer } from "../../test/helpers/fake-chat-server.js";
import { freePort } from "../../test/helpers/cli-process.js";
import { startTestNode, type TestNode } from "../../test/helpers/test-node.js";
import { interruptAction, parseToolChoice, quitHint, restartMarker, type InterruptState } from "./chat-command.js";

const token = "good-token";
// util-linux script(1) gives the chat a pseudo-terminal, so readline reads raw keys and Ctrl-C is the byte 0x03.
const hasScript = process.platform === "linux" && spawnSync("script", ["--version"]).status === 0;
let server: FakeChatServer;

beforeAll(async () => {
  server = await startFakeChatServer({ token });
});

afterAll(async () => {
  await server.close();
});

/** Runs only the chat command (not the whole CLI) in a child process with the given stdin. */
function runChat(args: string[], input: string, environment: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const commandModule = new URL("./chat-command.ts", import.meta.url).href;
  const script = [
    `import { Command } from "commander";`,
    `import { registerChatCommand } from ${JSON.stringify(commandModule)};`,
    `const program = new Command("clawbot");`,
    `registerChatCommand(program);`,
    `await program.parseAsync(process.argv.slice(1), { from: "user" });`,
  ].join("\n");
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, "--", "chat", ...args], {
    env: { ...process.env, CLAWBOT_TOKEN: "", ...environment },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(input);
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

describe("clawbot chat (stdin not a TTY)", () => {
  it("answers each line in turn in one session, stats on stderr, then exits 0", async () => {
    const result = await runChat(["--url", server.url, "--token", token, "--session", "piped", "--max-tokens", "32", "--temperature", "0"], "hello world\n\nsecond line\nhistory");
    expect(result.stdout).toBe("you said: hello world\nyou said: second line\nearlier: hello world, second line\n");
    expect(result.stderr.trim().split("\n")).toHaveLength(3);
    expect(result.stderr).toMatch(/^\[4 tokens · [\d.]+ tok\/s · ttft \d+ ms\]$/m);
    expect(result.code).toBe(0);
    const chat = server.frames.find((frame) => frame.type === "chat" && frame.session === "piped");
    expect(chat).toMatchObject({ params: { max_tokens: 32, temperature: 0 } });
  });

  it("marks a restart (a cluster's worker lost) with a line of its own, then prints the new answer", async () => {
    const result = await runChat(["--url", server.url, "--token", token], "restart\n");
    expect(result.stdout).toBe(`lost words\n${restartMarker}\nyou said: restart\n`);
    expect(result.code).toBe(0);
  });

  it("takes the token from CLAWBOT_TOKEN", async () => {
    const result = await runChat(["--url", server.url], "hi\n", { CLAWBOT_TOKEN: token });
    expect(result.stdout).toBe("you said: hi\n");
    expect(result.code).toBe(0);
  });

  it("prints server errors as `error [code]: message`, goes on, and exits 1", async () => {
    const result = await runChat(["--url", server.url, "--token", token], "fail\nok\n");
    expect(result.stdout).toBe("you said: ok\n");
    expect(result.stderr).toContain("error [overloaded]: All sequences are busy; retry later.\n");
    expect(result.code).toBe(1);
  });

  it("exits 1 with one line for a bad token", async () => {
    const result = await runChat(["--url", server.url, "--token", "wrong"], "hi\n");
    expect(result.stderr).toBe("error [unauthorized]: The server rejected the token (HTTP 401: Invalid token: signature verification failed.).\n");
    expect(result.stdout).toBe("");
    expect(result.code).toBe(1);
  });

  it("exits 1 with one line when nothing listens", async () => {
    const port = await freePort();
    const result = await runChat(["--url", `ws://127.0.0.1:${port}`, "--token", token], "hi\n");
    expect(result.stderr).toBe(`error [connection_refused]: Cannot connect to ws://127.0.0.1:${port}: connection refused (is clawbot running?).\n`);
    expect(result.code).toBe(1);
  });
});

describe("--tool-choice", () => {
  it("passes auto, none and required as they are and makes any other value the one tool to call", () => {
    for (const value of ["auto", "none", "required"]) expect(parseToolChoice(value)).toBe(value);
    expect(parseToolChoice("local.add")).toEqual({ type: "function", function: { name: "local.add" } });
  });

  it("refuses a value that cannot be a tool name", () => {
    for (const value of ["", "two words", "x".repeat(65), "a/b"]) expect(() => parseToolChoice(value)).toThrow(InvalidArgumentError);
  });
});

describe("clawbot chat with a node's tools (echo engine, the ward-tools plugin)", () => {
  let node: TestNode;
  let userToken: string;

  beforeAll(async () => {
    node = await startTestNode({ agent: { engine: "echo" }, plugins: [{ path: path.resolve("test/fixtures/plugins/ward-tools-plugin.ts") }], tools: { approval_timeout: 30 } });
    userToken = await node.token("alice");
  });

  afterAll(async () => {
    await node?.close();
  });

  it("shows each tool call and its result on stderr, the answer on stdout", async () => {
    const result = await runChat(["--url", node.wsUrl, "--token", userToken], 'how many? free_beds {"ward": "icu"}\n');
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stderr.trim().split("\n");
    expect(lines[0]).toBe('→ free_beds({"ward":"icu"})');
    expect(lines[1]).toBe('← ok: {"ward":"icu","free":1}');
    expect(lines[2]).toMatch(/^\[\d+ tokens/);
    expect(result.stdout).toContain('{"ward":"icu","free":1}');
  });

  it("--tool-choice names the tool to call, or none calls nothing", async () => {
    const named = await runChat(["--url", node.wsUrl, "--token", userToken, "--tool-choice", "free_beds"], 'which ward? {"ward": "ward-2"}\n');
    expect(named.code, named.stderr).toBe(0);
    expect(named.stderr).toContain('→ free_beds({"ward":"ward-2"})\n← ok: {"ward":"ward-2","free":0}\n');
    const none = await runChat(["--url", node.wsUrl, "--token", userToken, "--tool-choice", "none"], 'free_beds {"ward": "icu"}\n');
    expect(none.code, none.stderr).toBe(0);
    expect(none.stderr).not.toContain("→");
    const bad = await runChat(["--url", node.wsUrl, "--token", userToken, "--tool-choice", "two words"], "hi\n");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("--tool-choice");
  });

  it("refuses a call that needs approval when stdin is piped: nobody can answer", async () => {
    const result = await runChat(["--url", node.wsUrl, "--token", userToken, "--tool-choice", "page_doctor"], 'page {"ward": "icu", "message": "bed 4"}\n');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('→ page_doctor({"ward":"icu","message":"bed 4"})\npage_doctor needs approval: refused (stdin is not a terminal)\n← denied: ');
    expect(result.stderr).not.toContain("paged icu");
  });

  it("--agent names the agent: an unknown one is the node's bad_request", async () => {
    const result = await runChat(["--url", node.wsUrl, "--token", userToken, "--agent", "nobody"], "hi\n");
    expect(result.stderr).toContain('error [bad_request]: There is no agent named "nobody"');
    expect(result.code).toBe(1);
    const known = await runChat(["--url", node.wsUrl, "--token", userToken, "--agent", "default"], "hi\n");
    expect(known.code, known.stderr).toBe(0);
  });

  it.runIf(hasScript)("on a terminal asks `Allow …? [y/N]`: y runs the call, anything else refuses it", async () => {
    const chat = startTerminalChat(["--url", node.wsUrl, "--token", userToken, "--tool-choice", "page_doctor"]);
    try {
      await chat.waitFor(/connected to/);
      chat.type('page {"ward": "icu", "message": "bed 4"}\r');
      await chat.waitFor(/Allow page_doctor\(\{"ward":"icu","message":"bed 4"\}\)\? \[y\/N\] /);
      chat.type("y\r");
      await chat.waitFor(/← ok: paged icu for alice: bed 4/);
      chat.type('page {"ward": "ward-1", "message": "bed 9"}\r');
      await chat.waitFor(/Allow page_doctor\(\{"ward":"ward-1","message":"bed 9"\}\)\? \[y\/N\] /);
      chat.type("n\r");
      await chat.waitFor(/← denied: /);
      expect(chat.output()).not.toContain("paged ward-1");
      chat.type("\x04");
      expect(await chat.exited).toBe(0);
    } finally {
      chat.kill();
    }
  });
});

describe("Ctrl-C", () => {
  const idle: InterruptState = { busy: false, interactive: true, typing: false, warned: false, msSinceLastInterrupt: 60_000 };

  it("cancels a running answer, and quits when pressed again within a second", () => {
    expect(interruptAction({ ...idle, busy: true })).toBe("cancel");
    expect(interruptAction({ ...idle, busy: true, msSinceLastInterrupt: 300 })).toBe("quit");
  });

  it("at the prompt clears typed text, warns on an empty line, and quits on the next one", () => {
    expect(interruptAction({ ...idle, typing: true })).toBe("clear-line");
    expect(interruptAction({ ...idle, typing: true, warned: true })).toBe("clear-line");
    expect(interruptAction(idle)).toBe("warn");
    expect(interruptAction({ ...idle, warned: true })).toBe("quit");
  });

  it("from a pipe quits unless an answer runs", () => {
    expect(interruptAction({ ...idle, interactive: false })).toBe("quit");
    expect(interruptAction({ ...idle, interactive: false, busy: true })).toBe("cancel");
  });
});


describe.runIf(hasScript)("clawbot chat on a terminal", () => {
  let slowServer: FakeChatServer;
  beforeAll(async () => {
    slowServer = await startFakeChatServer({ token, wordDelayMs: 50 });
  });
  afterAll(async () => {
    await slowServer.close();
  });

  it("Ctrl-C cancels the answer, clears a typed line, and quits only when pressed twice at an empty prompt", async () => {
    const chat = startTerminalChat(["--url", slowServer.url, "--token", token]);
    try {
      await chat.waitFor(/connected to/);
      chat.type("long\r");
      await chat.waitFor(/word3/);
      chat.type("\x03");
      await chat.waitFor(/cancelled\]/);
      expect(slowServer.frames.filter((frame) => frame.type === "cancel")).toHaveLength(1);

      chat.type("\x03");
      await chat.waitFor(new RegExp(escape(quitHint)));
      // Still running: a typed line is cleared by Ctrl-C, and the next line is answered.
      chat.type("abc\x03");
      chat.type("hi\r");
      await chat.waitFor(/you said: hi/);
      expect(chat.output()).not.toContain("you said: abc");

      chat.type("\x03");
      await chat.waitFor(new RegExp(`${escape(quitHint)}[\\s\\S]*${escape(quitHint)}`));
      chat.type("\x03");
      expect(await chat.exited).toBe(0);
    } finally {
      chat.kill();
    }
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Runs the chat command under script(1), keys written to its terminal by type(). */
function startTerminalChat(args: string[]) {
  const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
  const script = [
    `import { Command } from "commander";`,
    `import { registerChatCommand } from ${JSON.stringify(new URL("./chat-command.ts", import.meta.url).href)};`,
    `const program = new Command("clawbot");`,
    `registerChatCommand(program);`,
    `await program.parseAsync(process.argv.slice(1), { from: "user" });`,
  ].join("\n");
  const words = [process.execPath, "--import", "tsx", "--input-type=module", "-e", script, "--", "chat", ...args];
  const quoted = words.map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(" ");
  const child = spawn("script", ["--quiet", "--flush", "--return", "--command", quoted, "/dev/null"], {
    cwd: repositoryRoot,
    env: { ...process.env, CLAWBOT_TOKEN: "", TERM: "dumb" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  const watchers = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const watcher of [...watchers]) watcher();
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return {
    exited,
    output: () => output,
    type: (keys: string) => child.stdin.write(keys),
    kill: () => {
      if (child.exitCode === null) child.kill("SIGKILL");
    },
    waitFor: (pattern: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          watchers.delete(check);
          reject(new Error(`timed out waiting for ${pattern}; the terminal showed:\n${output}`));
        }, 20_000);
        const check = () => {
          if (!pattern.test(output)) return;
          clearTimeout(timer);
          watchers.delete(check);
          resolve();
        };
        watchers.add(check);
        check();
      }),
  };
}
