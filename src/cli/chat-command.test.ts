// `clawbot chat` with piped stdin against a fake gateway: one answer per line, exit codes, one-line errors.
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeChatServer, type FakeChatServer } from "../../test/helpers/fake-chat-server.js";
import { freePort } from "../../test/helpers/cli-process.js";

const token = "good-token";
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
