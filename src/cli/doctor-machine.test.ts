// Tests for the machine checks: threads vs cores (the cores − 1 trap) and the data directory's existence, mode and owner.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dataDirChecks, threadsCheck } from "./doctor-machine.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-doctor-unit-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe("threadsCheck", () => {
  it("warns at more threads than cores and at every core of a multi-core box, and suggests cores − 1", () => {
    expect(threadsCheck(3, 2)).toMatchObject({ status: "warn", fix: expect.stringContaining("agent.threads: 1") });
    expect(threadsCheck(2, 2)).toMatchObject({ status: "warn", fix: expect.stringContaining("agent.threads: 1") });
    expect(threadsCheck(8, 8)).toMatchObject({ status: "warn", fix: expect.stringContaining("agent.threads: 7") });
    expect(threadsCheck(1, 2).status).toBe("ok");
    expect(threadsCheck(1, 1).status).toBe("ok");
    expect(threadsCheck(7, 8).status).toBe("ok");
  });
});

describe("dataDirChecks", () => {
  it("accepts a private directory, and one that can still be created", () => {
    const dataDir = path.join(root, "private");
    fs.mkdirSync(dataDir, { mode: 0o700 });
    fs.chmodSync(dataDir, 0o700);
    expect(dataDirChecks(dataDir).filter((check) => check.name !== "disk space").map((check) => check.status)).toEqual(["ok", "ok"]);
    const missing = dataDirChecks(path.join(root, "not", "yet"));
    expect(missing[0]).toMatchObject({ status: "ok", message: expect.stringContaining("does not exist yet") });
  });

  it("warns about a directory other users can read, with the chmod", () => {
    const dataDir = path.join(root, "wide");
    fs.mkdirSync(dataDir);
    fs.chmodSync(dataDir, 0o750);
    expect(dataDirChecks(dataDir).find((check) => check.name === "data dir mode")).toMatchObject({ status: "warn", fix: `chmod 700 ${dataDir}` });
  });

  it("fails a file where the directory should be", () => {
    const file = path.join(root, "a-file");
    fs.writeFileSync(file, "");
    expect(dataDirChecks(file)).toEqual([expect.objectContaining({ status: "fail", message: expect.stringContaining("not a directory") })]);
  });
});
