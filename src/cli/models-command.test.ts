// Tests for `clawbot models pull|list` and the progress bar's output without a terminal.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { testModelPath } from "../../test/helpers/test-model.js";
import { registerModelsCommand } from "./models-command.js";
import { createProgressBar } from "./progress-bar.js";

let cacheDir: string;
let stdout: string;
let stderr: string;

async function runCli(...args: string[]): Promise<void> {
  const program = new Command("clawbot").exitOverride();
  registerModelsCommand(program);
  await program.parseAsync(["node", "clawbot", ...args]);
}

beforeEach(async () => {
  cacheDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "clawbot-models-cli-"));
  stdout = "";
  stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
});

afterEach(async () => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
  await fs.promises.rm(cacheDir, { recursive: true, force: true });
});

describe("clawbot models", () => {
  it("pull downloads by URL, prints the path on stdout, and list shows file, size and hash", async () => {
    const bytes = await fs.promises.readFile(await testModelPath());
    const server = http.createServer((_request, response) => response.writeHead(200, { "content-length": bytes.length }).end(bytes));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/stories260K.gguf`;
      const sha256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
      await runCli("models", "pull", url, "--sha256", sha256, "--dir", cacheDir);
      expect(process.exitCode).toBeUndefined();
      expect(stdout).toBe(`${path.join(cacheDir, "stories260K.gguf")}\n`);
      expect(stderr).toContain(`Verified SHA-256 ${sha256}`);

      stdout = "";
      await runCli("models", "list", "--dir", cacheDir);
      const lines = stdout.trim().split("\n");
      expect(lines[0]).toMatch(/^FILE\s+SIZE\s+SHA256$/);
      expect(lines[1]).toMatch(new RegExp(`^stories260K\\.gguf\\s+1\\.13 MiB\\s+${sha256}$`));
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("pull reports a failure on stderr with exit code 1", async () => {
    await runCli("models", "pull", path.join(cacheDir, "absent.gguf"), "--dir", cacheDir);
    expect(process.exitCode).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/clawbot models pull: .*absent\.gguf: no such file/);
  });

  it("list says so when the cache is empty", async () => {
    await runCli("models", "list", "--dir", path.join(cacheDir, "none"));
    expect(stdout).toBe("");
    expect(stderr).toContain("No models in");
  });
});

describe("createProgressBar without a terminal", () => {
  function capture(): { stream: NodeJS.WriteStream; text: () => string } {
    let text = "";
    const stream = new Writable({
      write(chunk, _encoding, callback) {
        text += String(chunk);
        callback();
      },
    }) as unknown as NodeJS.WriteStream;
    return { stream, text: () => text };
  }

  it("prints nothing while updating and one summary line on stop", () => {
    const { stream, text } = capture();
    const bar = createProgressBar("Downloading model", { stream, unit: "bytes" });
    bar.update(0, 2048);
    bar.update(2048, 2048);
    expect(text()).toBe("");
    bar.stop();
    bar.stop();
    expect(text()).toMatch(/^Downloading model: 2\.00 KiB of 2\.00 KiB in \d+s/);
    expect(text().split("\n")).toHaveLength(2);
  });

  it("reads a call without a total as a fraction", () => {
    const { stream, text } = capture();
    const bar = createProgressBar("Loading model", { stream });
    bar.update(0.5);
    bar.update(1);
    bar.stop();
    expect(text()).toMatch(/^Loading model: 100% in \d+s\n$/);
  });

  it("prints nothing at all when never updated", () => {
    const { stream, text } = capture();
    createProgressBar("Idle", { stream }).stop();
    expect(text()).toBe("");
  });
});
