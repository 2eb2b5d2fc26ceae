// The deployment files (issue 15, part 3): the systemd unit passes `systemd-analyze verify` and is hardened; the Dockerfile
// and deploy/compose.yaml are checked with what runs here (no Docker engine): stages, user, volumes, health check,
// pinned images, files they mount, and that the container's config loads as `clawbot start` loads it.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../src/config/load.js";
import { checkExposure } from "../src/daemon/exposure-check.js";
import { resolveGatewayConfig } from "../src/gateways/registry.js";
import { silentLogger } from "../src/logging/logger.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const read = (file: string) => fs.readFileSync(path.join(root, file), "utf8");

describe("deploy/systemd/clawbot.service", () => {
  const unit = path.join(root, "deploy/systemd/clawbot.service");

  it("passes systemd-analyze verify, which refuses a broken unit", () => {
    const verified = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
    expect(verified.status, verified.stderr).toBe(0);
    expect(verified.stderr.trim()).toBe("");
    // The check can fail: the same unit with a misspelt key and a relative ExecStart is refused.
    const broken = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-unit-")), "clawbot.service");
    fs.writeFileSync(broken, read("deploy/systemd/clawbot.service").replace("ProtectSystem=strict", "ProtectSystm=strict").replace("ExecStart=/usr/bin/node", "ExecStart=node-nowhere"));
    const refused = spawnSync("systemd-analyze", ["verify", broken], { encoding: "utf8" });
    expect(refused.status !== 0 || refused.stderr.includes("ProtectSystm")).toBe(true);
  });

  it("runs unprivileged with only the data directory writable", () => {
    const text = read("deploy/systemd/clawbot.service");
    const settings = new Map(text.split("\n").filter((line) => /^[A-Za-z]+=/.test(line)).map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]));
    expect(settings.get("DynamicUser")).toBe("yes");
    expect(settings.get("ProtectSystem")).toBe("strict");
    expect(settings.get("ReadWritePaths")).toBe("/var/lib/clawbot");
    expect(settings.get("StateDirectory")).toBe("clawbot");
    expect(settings.get("NoNewPrivileges")).toBe("yes");
    expect(settings.get("CapabilityBoundingSet")).toBe("");
    // Node's JIT writes executable memory: this setting would stop it at start.
    expect(settings.has("MemoryDenyWriteExecute")).toBe(false);
  });
});

describe("Dockerfile", () => {
  const dockerfile = read("Dockerfile");
  const instructions = dockerfile
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.trim().startsWith("#"))
    .map((line) => {
      const [keyword, ...rest] = line.trim().split(/\s+/);
      return { keyword: (keyword ?? "").toUpperCase(), argument: rest.join(" ") };
    });
  const lastStage = instructions.slice(instructions.map((instruction) => instruction.keyword).lastIndexOf("FROM"));

  it("builds in one stage and runs in another, as a user that is not root", () => {
    expect(instructions.filter((instruction) => instruction.keyword === "FROM").length).toBeGreaterThanOrEqual(2);
    const user = lastStage.filter((instruction) => instruction.keyword === "USER").at(-1)?.argument;
    expect(user).toBeDefined();
    expect(["root", "0", "0:0"]).not.toContain(user);
  });

  it("installs with the command CI proves on a clean machine, and builds", () => {
    const ci = read(".ci/run");
    const install = /npm ci [^\n\\&]*/.exec(ci)?.[0]?.trim();
    expect(install).toBeDefined();
    expect(dockerfile).toContain(install as string);
    expect(dockerfile).toContain("npm run build");
  });

  it("keeps the model and data directories in volumes and checks /healthz", () => {
    const volumes = lastStage.filter((instruction) => instruction.keyword === "VOLUME").map((instruction) => JSON.parse(instruction.argument) as string[]).flat();
    expect(volumes).toEqual(expect.arrayContaining(["/models", "/var/lib/clawbot"]));
    const health = lastStage.find((instruction) => instruction.keyword === "HEALTHCHECK")?.argument ?? "";
    expect(health).toContain("http://127.0.0.1:8080/healthz");
    expect(lastStage.find((instruction) => instruction.keyword === "ENV")?.argument).toContain("CLAWBOT_HOME=/var/lib/clawbot");
  });

  it("ships a config that loads as clawbot start loads it, with JWT on every gateway that leaves loopback", () => {
    expect(dockerfile).toContain("COPY deploy/clawbot.yaml /etc/clawbot/clawbot.yaml");
    // The web chat and console are read from web/ beside dist/ at run time.
    expect(dockerfile).toContain("COPY --from=build /app/web ./web");
    const environment = { CLAWBOT_MODEL_PATH: "/models/model.gguf", CLAWBOT_JWT_SECRET: "0123456789abcdef0123456789abcdef-deploy" };
    const { config } = loadConfig({ configPath: path.join(root, "deploy/clawbot.yaml"), environment });
    const gateways = config.gateways.map((entry, index) => resolveGatewayConfig(entry, `gateways[${index}]`));
    expect(() => checkExposure({ ...config, gateways }, { insecureDev: false, logger: silentLogger })).not.toThrow();
    expect(gateways.map((gateway) => [gateway.type, gateway.type === "custom" ? undefined : gateway.auth.type])).toEqual([
      ["websocket", "jwt"],
      ["http", "jwt"],
    ]);
    expect(config.metrics.port).toBe(9090);
    // Without the secret the start fails instead of running open.
    expect(() => loadConfig({ configPath: path.join(root, "deploy/clawbot.yaml"), environment: { CLAWBOT_MODEL_PATH: "/models/model.gguf" } })).toThrow(/CLAWBOT_JWT_SECRET/);
  });
});

describe("deploy/compose.yaml", () => {
  const compose = parse(read("deploy/compose.yaml")) as {
    services: Record<string, { image?: string; build?: { context: string; dockerfile: string }; volumes?: string[]; healthcheck?: { test: string[] }; depends_on?: string[] }>;
    volumes: Record<string, unknown>;
  };

  it("runs Clawbot with Mosquitto, NATS, Prometheus and Grafana, every image pinned to a version", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["clawbot", "grafana", "mosquitto", "nats", "prometheus"]);
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.image, name).toMatch(/^[a-z0-9./-]+:v?[0-9][\w.-]*$/);
    }
    expect(fs.existsSync(path.resolve(root, "deploy", compose.services.clawbot?.build?.context ?? "", compose.services.clawbot?.build?.dockerfile ?? ""))).toBe(true);
    expect(compose.services.clawbot?.healthcheck?.test.join(" ")).toContain("http://127.0.0.1:8080/healthz");
  });

  it("mounts files that exist and volumes it declares", () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(":")[0] as string;
        if (source.startsWith("./")) expect(fs.existsSync(path.join(root, "deploy", source)), `${name}: ${source}`).toBe(true);
        else if (!source.startsWith("$")) expect(Object.keys(compose.volumes), `${name}: ${source}`).toContain(source);
      }
    }
  });

  it("scrapes Clawbot's metrics port and provisions the dashboard with its data source", () => {
    const prometheus = parse(read("deploy/prometheus/prometheus.yml")) as { scrape_configs: { static_configs: { targets: string[] }[] }[] };
    expect(prometheus.scrape_configs.flatMap((job) => job.static_configs.flatMap((target) => target.targets))).toContain("clawbot:9090");
    const datasources = parse(read("deploy/grafana/provisioning/datasources/prometheus.yaml")) as { datasources: { uid: string; url: string }[] };
    expect(datasources.datasources[0]?.url).toBe("http://prometheus:9090");
    const providers = parse(read("deploy/grafana/provisioning/dashboards/clawbot.yaml")) as { providers: { options: { path: string } }[] };
    const dashboardMount = compose.services.grafana?.volumes?.find((volume) => volume.includes("clawbot-dashboard.json"));
    expect(dashboardMount?.split(":")[1]?.startsWith(`${providers.providers[0]?.options.path}/`)).toBe(true);
    // The dashboard's data source variable resolves when provisioned (not only through the import dialog).
    const dashboard = JSON.parse(read("deploy/grafana/clawbot-dashboard.json")) as { templating: { list: { name: string; type: string }[] } };
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: "DS_PROMETHEUS", type: "datasource" }));
  });
});

