// The WeCom entry's keys: defaults, required keys per mode (errors name the key), and the flat XML reader the callback uses.
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { readFlatXml } from "./flat-xml.js";
import { parseWecomConfig } from "./wecom-config.js";

const callback = { type: "custom" as const, protocol: "wecom", corp_id: "ww1", corp_secret: "s", agent_id: "1000002", token: "Tok3n", encoding_aes_key: "a".repeat(43) };

describe("wecom config", () => {
  it("defaults to the callback mode on the http gateway's port, markdown, the public API", () => {
    const config = parseWecomConfig(callback);
    expect(config).toMatchObject({ mode: "callback", agent_id: 1000002, api_base: "https://qyapi.weixin.qq.com", callback_path: "/wecom/callback", message_type: "markdown", timestamp_tolerance: 300 });
    expect(config.port).toBeUndefined();
  });

  it("names the missing keys of each mode, and unknown or malformed keys", () => {
    expect(() => parseWecomConfig({ type: "custom", protocol: "wecom" })).toThrow(/corp_id: required in mode "callback"[\s\S]*encoding_aes_key: required/);
    expect(() => parseWecomConfig({ type: "custom", protocol: "wecom", mode: "aibot", bot_id: "b" })).toThrow(/secret: required in mode "aibot"/);
    expect(() => parseWecomConfig({ ...callback, encoding_aes_key: "short" })).toThrow(/encoding_aes_key: expected the 43-character EncodingAESKey/);
    expect(() => parseWecomConfig({ ...callback, corpid: "x" })).toThrow(/unknown key "corpid" \(protocol wecom\)/);
    expect(parseWecomConfig({ type: "custom", protocol: "wecom", mode: "aibot", bot_id: "b", secret: "s" })).toMatchObject({ ws_url: "wss://openws.work.weixin.qq.com", ping_interval: 30 });
  });
});

it("parses the entries of docs/channels.md's WeCom section", () => {
  const docs = fs.readFileSync(new URL("../../../../docs/channels.md", import.meta.url), "utf8");
  const section = docs.slice(docs.indexOf("## WeCom"), docs.indexOf("## DingTalk"));
  const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  const entries = YAML.parse(block.replace(/\$\{(\w+)\}/g, "secret-$1")) as Parameters<typeof parseWecomConfig>[0][];
  expect(entries.map((entry) => parseWecomConfig(entry).mode)).toEqual(["callback", "aibot"]);
});

describe("readFlatXml", () => {
  it("reads CDATA and text fields, entities included", () => {
    expect(readFlatXml("<xml><A><![CDATA[x <y> & z]]></A>\n<B>1&amp;2</B><C></C></xml>")).toEqual({ A: "x <y> & z", B: "1&2", C: "" });
  });

  it("refuses nesting, attributes, duplicates, DOCTYPE, junk and unknown entities", () => {
    for (const bad of ["<xml><A><B>1</B></A></xml>", '<xml a="1"></xml>', "<xml><A>1</A><A>2</A></xml>", "<!DOCTYPE x><xml></xml>", "<xml>junk</xml>", "<xml><A>&e;</A></xml>", "<xml><A>1</A></xml>trailing"]) {
      expect(() => readFlatXml(bad), bad).toThrow(/malformed/);
    }
  });
});
