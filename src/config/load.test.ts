// Config loading: the seed's formats as written, one-file form, ${ENV} interpolation and errors that say where.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./load.js";

const seedAgentYaml = `agent:
  model_path: ./models/llama-7b-q4.gguf
  max_tokens: 2048
  temperature: 0.7
  system_prompt: "您是专业的技术顾问..."
`;
const seedGatewaysJson = `{"gateways": [{"type": "websocket", "port": 8080, "auth": {"type": "jwt", "secret": "your-secret-key"}},
              {"type": "custom", "protocol": "enterprise_mqtt", "broker": "tcp://broker.example:1883", "qos": 1}]}`;

function write(files: Record<string, string>): string {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-config-"));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(directory, name), text);
  return directory;
}

describe("loadConfig", () => {
  it("accepts the seed's agent YAML and gateways JSON verbatim, as two files", () => {
    const directory = write({ "agent.yaml": seedAgentYaml, "gateways.json": seedGatewaysJson });
    const { config, baseDir } = loadConfig({ agentPath: path.join(directory, "agent.yaml"), gatewaysPath: path.join(directory, "gateways.json") });
    expect(baseDir).toBe(directory);
    expect(config.agent).toMatchObject({ model_path: "./models/llama-7b-q4.gguf", max_tokens: 2048, temperature: 0.7, system_prompt: "您是专业的技术顾问...", parallel: 4, engine: "llama" });
    expect(config.agent.threads).toBeGreaterThanOrEqual(1);
    expect(config.gateways[0]).toMatchObject({ type: "websocket", port: 8080, host: "127.0.0.1", path: "/", max_payload: 1048576, auth: { type: "jwt", secret: "your-secret-key" } });
    expect(config.gateways[1]).toEqual({ type: "custom", protocol: "enterprise_mqtt", broker: "tcp://broker.example:1883", qos: 1 });
  });

  it("accepts both top-level keys in one clawbot.yaml", () => {
    const gateways = JSON.parse(seedGatewaysJson).gateways;
    const directory = write({ "clawbot.yaml": `${seedAgentYaml}gateways: ${JSON.stringify(gateways)}\n` });
    const { config } = loadConfig({ configPath: path.join(directory, "clawbot.yaml") });
    expect(config.gateways).toHaveLength(2);
    expect(config.agent.max_tokens).toBe(2048);
  });

  it("interpolates ${VAR} and ${VAR:-default}, and names the key of an unset variable", () => {
    const directory = write({ "clawbot.yaml": `agent:\n  system_prompt: "\${PROMPT}"\n  model_path: "\${MODEL:-./m.gguf}"\n` });
    const file = path.join(directory, "clawbot.yaml");
    const { config } = loadConfig({ configPath: file, environment: { PROMPT: "hello" } });
    expect(config.agent.system_prompt).toBe("hello");
    expect(config.agent.model_path).toBe("./m.gguf");
    expect(() => loadConfig({ configPath: file, environment: {} })).toThrow(`${file}: agent.system_prompt: environment variable PROMPT is not set`);
  });

  it("names the file, key path and expectation for unknown keys and wrong types", () => {
    const directory = write({
      "typo.yaml": "agent:\n  temprature: 0.5\n",
      "type.yaml": "agent:\n  max_tokens: many\n",
      "gateway.yaml": "gateways:\n  - type: websocket\n    port: 99999\n  - type: carrier-pigeon\n",
    });
    expect(() => loadConfig({ configPath: path.join(directory, "typo.yaml") })).toThrow(/typo\.yaml: agent: unknown key "temprature"/);
    expect(() => loadConfig({ configPath: path.join(directory, "type.yaml") })).toThrow(/type\.yaml: agent\.max_tokens: expected number, got string/);
    const error = (() => {
      try {
        loadConfig({ configPath: path.join(directory, "gateway.yaml") });
      } catch (caught) {
        return caught as ConfigError;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.message).toMatch(/gateways\[0\]\.port/);
    expect(error?.message).toMatch(/gateways\[1\]\.type: expected one of "websocket", "http", "mqtt", "custom"/);
  });

  it("reports a missing file and invalid YAML with the file name", () => {
    expect(() => loadConfig({ configPath: "/nonexistent/clawbot.yaml" })).toThrow("/nonexistent/clawbot.yaml: cannot read config (file not found)");
    const directory = write({ "broken.yaml": "agent: [unclosed\n" });
    expect(() => loadConfig({ configPath: path.join(directory, "broken.yaml") })).toThrow(/broken\.yaml: not valid YAML\/JSON/);
  });
});
