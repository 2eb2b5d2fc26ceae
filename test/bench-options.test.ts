// The bench's settings and model lookup: the report is written only when asked, and a missing model is one line.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BenchSetupError, readBenchOptions } from "../bench/options.js";
import { benchTestModelPath, resolveBenchModel } from "../bench/realistic-model.js";

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-bench-options-"));

describe("bench options", () => {
  it("prints the report only, unless --write-report or BENCH_REPORT asks for a file", () => {
    expect(readBenchOptions({}, []).reportPath).toBe("");
    expect(readBenchOptions({}, ["--write-report"]).reportPath).toBe("docs/benchmarks.md");
    expect(readBenchOptions({ BENCH_REPORT: "/tmp/report.md" }, []).reportPath).toBe("/tmp/report.md");
    expect(readBenchOptions({ BENCH_REPORT: "" }, ["--write-report"]).reportPath).toBe("docs/benchmarks.md");
  });

  it("refuses an unknown argument and a bad setting with a message naming it", () => {
    expect(() => readBenchOptions({}, ["--write"])).toThrow(BenchSetupError);
    expect(() => readBenchOptions({}, ["--write"])).toThrow(/unknown argument "--write"; the flags are --write-report, --skip-knowledge, --kb-records=N, --skip-tools and --skip-cluster/);
    expect(() => readBenchOptions({ BENCH_REPETITIONS: "two" }, [])).toThrow(/^BENCH_REPETITIONS="two": expected a whole number ≥ 1$/);
    expect(() => readBenchOptions({ BENCH_ECHO_SECONDS: "0.01" }, [])).toThrow(/^BENCH_ECHO_SECONDS="0.01": expected a number ≥ 0.1$/);
    expect(() => readBenchOptions({ BENCH_CONCURRENCIES: "1,,4" }, [])).toThrow(/^BENCH_CONCURRENCIES="": expected a whole number ≥ 1$/);
    expect(readBenchOptions({ BENCH_CONCURRENCIES: "2,16", BENCH_ECHO_SECONDS: "0.2" }, [])).toMatchObject({ concurrencies: [2, 16], parallel: 16, echoSeconds: 0.2 });
  });

  it("takes the knowledge settings from BENCH_KB_* and from --skip-knowledge and --kb-records=N", () => {
    expect(readBenchOptions({}, [])).toMatchObject({ kbRecords: 100_000, kbEmbedRecords: 1000, skipKnowledge: false });
    expect(readBenchOptions({ BENCH_KB_RECORDS: "5000", BENCH_SKIP_KNOWLEDGE: "1" }, [])).toMatchObject({ kbRecords: 5000, skipKnowledge: true });
    expect(readBenchOptions({ BENCH_KB_RECORDS: "5000" }, ["--kb-records=20000", "--skip-knowledge"])).toMatchObject({ kbRecords: 20_000, skipKnowledge: true });
    expect(() => readBenchOptions({}, ["--kb-records=many"])).toThrow(/^BENCH_KB_RECORDS="many": expected a whole number ≥ 100$/);
    expect(readBenchOptions({ BENCH_KB_EMBED_RECORDS: "0" }, []).kbEmbedRecords).toBe(0);
  });

  it("takes the tool catalog settings from BENCH_TOOLS_REPETITIONS, BENCH_SKIP_TOOLS and --skip-tools", () => {
    expect(readBenchOptions({}, [])).toMatchObject({ toolsRepetitions: 5, skipTools: false });
    expect(readBenchOptions({ BENCH_TOOLS_REPETITIONS: "3", BENCH_SKIP_TOOLS: "1" }, [])).toMatchObject({ toolsRepetitions: 3, skipTools: true });
    expect(readBenchOptions({}, ["--skip-tools"]).skipTools).toBe(true);
    expect(() => readBenchOptions({ BENCH_TOOLS_REPETITIONS: "0" }, [])).toThrow(/^BENCH_TOOLS_REPETITIONS="0": expected a whole number ≥ 1$/);
  });

  it("skips the cluster hop with BENCH_SKIP_CLUSTER or --skip-cluster", () => {
    expect(readBenchOptions({}, []).skipCluster).toBe(false);
    expect(readBenchOptions({ BENCH_SKIP_CLUSTER: "1" }, []).skipCluster).toBe(true);
    expect(readBenchOptions({}, ["--skip-cluster"]).skipCluster).toBe(true);
  });
});

describe("bench model lookup", () => {
  const model = path.join(scratch, "model.gguf");
  fs.writeFileSync(model, "GGUF");
  const offline = () => Promise.reject(new Error("fetch failed (getaddrinfo ENOTFOUND huggingface.co)\n    at pullModel (model-downloader.ts:1:1)"));

  it("uses CLAWBOT_TEST_MODEL when it names a file, and says so in one line when it does not", async () => {
    await expect(benchTestModelPath({ environment: { CLAWBOT_TEST_MODEL: model }, findTestModel: offline })).resolves.toBe(model);
    const missing = path.join(scratch, "nothing.gguf");
    const error = await benchTestModelPath({ environment: { CLAWBOT_TEST_MODEL: missing }, findTestModel: offline }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BenchSetupError);
    expect((error as Error).message).toBe(`CLAWBOT_TEST_MODEL=${missing}: no such file; set it to stories260K.gguf (or BENCH_MODEL to any GGUF file)`);
  });

  it("turns a failed download into one line that says what to set", async () => {
    const error = await resolveBenchModel(undefined, undefined, { environment: {}, findTestModel: offline }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BenchSetupError);
    const message = (error as Error).message;
    expect(message).not.toContain("\n");
    expect(message).toContain("ENOTFOUND huggingface.co");
    expect(message).toMatch(/set CLAWBOT_TEST_MODEL=\/path\/to\/stories260K\.gguf or BENCH_MODEL=\/path\/to\/model\.gguf$/);
  });

  it("takes the tests' lookup when nothing is set, and refuses a BENCH_MODEL that names no file", async () => {
    await expect(resolveBenchModel(undefined, undefined, { environment: {}, findTestModel: () => Promise.resolve(model) })).resolves.toBe(model);
    await expect(resolveBenchModel(model)).resolves.toBe(model);
    await expect(resolveBenchModel(path.join(scratch, "absent.gguf"))).rejects.toThrow(/^BENCH_MODEL=.*absent\.gguf: no such file/);
  });

  it("`npm run bench` without a model prints one line and exits 1, before measuring anything", () => {
    // CLAWBOT_TEST_MODEL naming no file is the offline case without ../shared: no download, no stack trace.
    const result = spawnSync(process.execPath, ["--import", "tsx", "bench/run.ts"], {
      cwd: repositoryRoot,
      env: { ...process.env, CLAWBOT_TEST_MODEL: path.join(scratch, "missing.gguf"), BENCH_MODEL: "" },
      encoding: "utf8",
    });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim().split("\n")).toEqual([`bench failed: CLAWBOT_TEST_MODEL=${path.join(scratch, "missing.gguf")}: no such file; set it to stories260K.gguf (or BENCH_MODEL to any GGUF file)`]);
  });
});
