// The Feishu entry's keys: defaults, errors that name the key, and the entry docs/channels.md shows.
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import type { CustomGatewayConfig } from "../../../config/schema.js";
import { parseFeishuConfig } from "./feishu-config.js";

const base = { type: "custom" as const, protocol: "feishu", app_id: "cli_a1b2c3d4e5f60718", app_secret: "s" };

describe("parseFeishuConfig", () => {
  it("defaults to the long connection, open.feishu.cn, cards streamed every second", () => {
    const config = parseFeishuConfig(base);
    expect(config).toMatchObject({ mode: "long_connection", api_base: "https://open.feishu.cn", callback_path: "/feishu/events", reply_as: "card", stream_interval: 1, user_id_type: "open_id", group_reply: "mention" });
  });

  it("names the key in errors", () => {
    expect(() => parseFeishuConfig({ ...base, app_secret: 5 }, "gateways[3]")).toThrow(/gateways\[3\]\.app_secret/);
    expect(() => parseFeishuConfig({ ...base, api_base: "https://open.feishu.cn/open-apis" }, "gateways[3]")).toThrow(/gateways\[3\]\.api_base/);
    expect(() => parseFeishuConfig({ ...base, colour: "red" }, "gateways[3]")).toThrow(/unknown key "colour"/);
  });

  it("wants a way to check webhook deliveries, and the cli_ app id for the long connection", () => {
    expect(() => parseFeishuConfig({ ...base, mode: "webhook" })).toThrow(/encrypt_key or verification_token/);
    expect(parseFeishuConfig({ ...base, mode: "webhook", encrypt_key: "k" }).mode).toBe("webhook");
    expect(() => parseFeishuConfig({ ...base, app_id: "my-app" })).toThrow(/app_id/);
  });

  it("takes the entry in docs/channels.md", () => {
    const docs = fs.readFileSync(new URL("../../../../docs/channels.md", import.meta.url), "utf8");
    const section = docs.slice(docs.indexOf("## Feishu"), docs.indexOf("## Which mode"));
    const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBeDefined();
    const config = parseFeishuConfig(YAML.parse(block!.replaceAll("${FEISHU_APP_SECRET}", "secret")) as CustomGatewayConfig);
    expect(config).toMatchObject({ mode: "long_connection", users: { ou_fedcba9876543210fedcba9876543210: { roles: ["staff"] } } });
  });
});
