// The DingTalk entry's keys: defaults, errors that name the key, and the entry docs/channels.md shows.
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import type { CustomGatewayConfig } from "../../../config/schema.js";
import { parseDingtalkConfig } from "./dingtalk-config.js";

const entry = (keys: Record<string, unknown>) => ({ type: "custom", protocol: "dingtalk", ...keys }) as CustomGatewayConfig;

describe("parseDingtalkConfig", () => {
  it("defaults to Stream mode against api.dingtalk.com with the shared IM keys", () => {
    const config = parseDingtalkConfig(entry({ client_id: "dingapp", client_secret: "secret" }));
    expect(config).toMatchObject({ mode: "stream", api_base: "https://api.dingtalk.com", callback_path: "/dingtalk/callback", max_clock_skew: 300, group_reply: "mention", unknown_users: "allow" });
    expect(config.robot_code).toBeUndefined();
  });

  it("names the key of each problem", () => {
    expect(() => parseDingtalkConfig(entry({ client_secret: "secret" }))).toThrow(/client_id.*expected string/);
    expect(() => parseDingtalkConfig(entry({ client_id: "a", client_secret: "b", mode: "webhook" }))).toThrow(/mode/);
    expect(() => parseDingtalkConfig(entry({ client_id: "a", client_secret: "b", app_secret: "c" }))).toThrow(/unknown key "app_secret"/);
    expect(() => parseDingtalkConfig(entry({ client_id: "a", client_secret: "b", max_clock_skew: 7200 }))).toThrow(/max_clock_skew/);
    expect(() => parseDingtalkConfig(entry({ client_id: "a", client_secret: "b", api_base: "ftp://x" }))).toThrow(/api_base/);
  });

  it("takes the entry in docs/channels.md", () => {
    const docs = fs.readFileSync(new URL("../../../../docs/channels.md", import.meta.url), "utf8");
    const section = docs.slice(docs.indexOf("## DingTalk"), docs.indexOf("## Feishu"));
    const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBeDefined();
    const config = parseDingtalkConfig(YAML.parse(block!.replaceAll("${DINGTALK_CLIENT_SECRET}", "secret")) as CustomGatewayConfig);
    expect(config).toMatchObject({ mode: "stream", users: { manager1234: { roles: ["staff"] } } });
  });
});
