// The policy store: validated atomic replacement, audited changes, the API writing the file, and the watched file.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger, type Logger } from "../../logging/logger.js";
import { PolicyStore, type PolicyChange } from "./policy-store.js";

const directories: string[] = [];
const stores: PolicyStore[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  for (const directory of directories.splice(0)) fs.rmSync(directory, { recursive: true, force: true });
});

function policyFile(text: string): string {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-policy-"));
  directories.push(directory);
  const file = path.join(directory, "policy.yaml");
  fs.writeFileSync(file, text);
  return file;
}

function open(file: string | undefined, logger: Logger = silentLogger) {
  const changes: PolicyChange[] = [];
  const store = new PolicyStore({ ...(file ? { file } : {}), logger, debounceMs: 20, onChange: (change) => void changes.push(change) });
  stores.push(store);
  return { store, changes };
}

async function until(condition: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 500 && !condition(); attempt += 1) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(condition()).toBe(true);
}

describe("PolicyStore", () => {
  it("without a file has no policy and refuses replace()", () => {
    const { store } = open(undefined);
    expect(store.current()).toBeUndefined();
    expect(() => store.replace("roles: {}", "admin", "api")).toThrow(/No security.policy_file is configured/);
  });

  it("refuses to start on a missing or broken file, naming it", () => {
    expect(() => open("/nonexistent/policy.yaml")).toThrow("/nonexistent/policy.yaml: cannot read the security policy (file not found)");
    const broken = policyFile("roles: {doctor: {max_tokens: -1}}");
    expect(() => open(broken)).toThrow(`${broken}: roles.doctor.max_tokens`);
  });

  it("records the start and each API change (who, source, versions), writes the file, and keeps the old policy on a bad one", () => {
    const file = policyFile("roles: {doctor: {gateways: [http]}}");
    const { store, changes } = open(file);
    const first = store.current();
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ source: "file", previous: undefined, file });
    const text = "roles: {doctor: {gateways: [http, websocket]}}\n";
    const second = store.replace(text, "admin-ann", "api");
    expect(store.current()).toBe(second);
    expect(changes[1]).toMatchObject({ source: "api", by: "admin-ann", previous: first, policy: second });
    expect(fs.readFileSync(file, "utf8")).toBe(text);
    expect(fs.readdirSync(path.dirname(file))).toEqual(["policy.yaml"]);
    expect(() => store.replace("roles: {doctor: {gatewys: []}}", "admin-ann", "api")).toThrow('the policy: roles.doctor: unknown key "gatewys"');
    expect(store.current()).toBe(second);
    expect(fs.readFileSync(file, "utf8")).toBe(text);
  });

  it("does not change the policy when the change cannot be recorded", () => {
    const file = policyFile("roles: {}");
    let failing = false;
    const store = new PolicyStore({ file, logger: silentLogger, onChange: () => {
      if (failing) throw new Error("audit ledger full");
    } });
    const before = store.current();
    failing = true;
    expect(() => store.replace("roles: {doctor: {}}", "admin", "api")).toThrow("audit ledger full");
    expect(store.current()).toBe(before);
    expect(fs.readFileSync(file, "utf8")).toBe("roles: {}");
  });

  it("re-reads the watched file when an editor replaces it; a broken save is logged once and the old policy stays", async () => {
    const file = policyFile("roles: {doctor: {gateways: [http]}}");
    const errors: string[] = [];
    const logger = { ...silentLogger, error: (_fields: unknown, message: string) => void errors.push(message), info: () => {} } as unknown as Logger;
    const { store, changes } = open(file, logger);
    store.watch();
    // An editor's save: write a temporary file, rename it over the old one.
    const save = (text: string) => {
      fs.writeFileSync(`${file}.swp`, text);
      fs.renameSync(`${file}.swp`, file);
    };
    save("roles: {doctor: {gateways: [http, websocket]}}");
    await until(() => changes.length === 2);
    expect(store.current()?.document.roles.doctor?.gateways).toEqual(["http", "websocket"]);
    expect(changes[1]).toMatchObject({ source: "file", by: `uid ${process.getuid?.()}` });
    const kept = store.current();
    save("roles: {doctor: {gateways: http}}");
    await until(() => errors.length === 1);
    expect(errors[0]).toBe(`policy file refused: ${file}: roles.doctor.gateways: expected array, got string; the previous policy stays in force`);
    expect(store.current()).toBe(kept);
    fs.appendFileSync(file, "\n");
    save("roles: {doctor: {gateways: [mqtt]}}");
    await until(() => changes.length === 3);
    expect(errors).toHaveLength(1);
    expect(store.current()?.document.roles.doctor?.gateways).toEqual(["mqtt"]);
  });
});
