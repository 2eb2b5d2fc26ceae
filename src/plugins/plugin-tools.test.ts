// Plugin tools: both plugin forms offer tools, bad definitions stop the load naming the problem.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { pluginEntrySchema } from "../config/schema.js";
import { loadPlugins } from "./plugin-loader.js";

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const load = (...values: unknown[]) => loadPlugins(values.map((value) => pluginEntrySchema.parse(value)), { baseDir: repositoryRoot });
const runContext = { principal: { subject: "nurse-7", roles: [], scopes: [], claims: {} }, requestId: "r", gateway: "websocket", session: undefined, agent: "default", collections: "*" as const, signal: new AbortController().signal };

describe("plugin tools", () => {
  it("loads tools from definePlugin (api.addTool) and from a class (tools())", async () => {
    const [ward, clock] = await load({ path: "test/fixtures/plugins/ward-tools-plugin.ts" }, { path: "test/fixtures/plugins/clock-tool-plugin.ts", options: { now: "2026-12-02T10:00:00Z" } });
    expect(ward?.tools?.map((tool) => [tool.name, tool.source, tool.confirm])).toEqual([
      ["free_beds", "plugin:ward-tools", false],
      ["page_doctor", "plugin:ward-tools", true],
    ]);
    expect(await ward?.tools?.[0]?.run({ ward: "icu" }, runContext)).toEqual({ ward: "icu", free: 1 });
    expect(await ward?.tools?.[1]?.run({ ward: "icu", message: "bed 3" }, runContext)).toBe("paged icu for nurse-7: bed 3");
    expect(clock?.tools?.map((tool) => tool.name)).toEqual(["clock"]);
    expect(clock?.tools?.[0]?.parameters).toEqual({ type: "object", properties: {} });
    expect(await clock?.tools?.[0]?.run({}, runContext)).toBe("2026-12-02T10:00:00Z");
  });

  it.each([
    ["a bad name", `api.addTool({ name: "no spaces allowed", description: "d", run: () => 1 })`, /tool name "no spaces allowed"/],
    ["no description", `api.addTool({ name: "t", run: () => 1 })`, /description must be a non-empty string/],
    ["a non-object schema", `api.addTool({ name: "t", description: "d", parameters: { type: "string" }, run: () => 1 })`, /parameters must be a JSON Schema with type "object"/],
    ["no run", `api.addTool({ name: "t", description: "d" })`, /run must be a function/],
    ["a name twice", `api.addTool({ name: "t", description: "d", run: () => 1 }); api.addTool({ name: "t", description: "d", run: () => 1 })`, /tool t is added twice/],
  ])("refuses %s, naming the plugin file", async (_case, body, message) => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-tools-"));
    const file = path.join(directory, "bad-tool-plugin.mjs");
    fs.writeFileSync(file, `export default { [Symbol.for("clawbot.plugin")]: "definition", name: "bad", setup(api) { ${body} } };\n`);
    const error = await load({ path: file }).then(() => undefined, (caught: unknown) => caught as Error);
    expect(error?.message).toMatch(message);
    expect(error?.message).toContain("bad-tool-plugin.mjs");
  });
});
