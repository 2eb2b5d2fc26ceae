// The Grafana dashboard and docs/metrics.md against the registry: every query and every documented name exists, every metric is documented.
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { EchoEngine } from "../engine/echo/echo-engine.js";
import { silentLogger } from "../logging/logger.js";
import { createNodeMetrics } from "./node-metrics.js";

const dashboardFile = fileURLToPath(new URL("../../deploy/grafana/clawbot-dashboard.json", import.meta.url));
const docsFile = fileURLToPath(new URL("../../docs/metrics.md", import.meta.url));

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: { expr: string; refId: string; datasource?: { uid: string } }[];
}

/** Every query of the dashboard: panel targets and template variables. */
function dashboardQueries(): string[] {
  const dashboard = JSON.parse(fs.readFileSync(dashboardFile, "utf8")) as { panels: Panel[]; templating: { list: { type: string; query: { query: string } }[] } };
  // Query variables read metrics; the data source variable (for provisioning, deploy/grafana/provisioning) reads none.
  const queryVariables = dashboard.templating.list.filter((variable) => variable.type === "query");
  return [...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr)), ...queryVariables.map((variable) => variable.query.query)];
}

/** The metric (family) names a PromQL expression reads; histogram series resolve to their histogram. */
function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"[^"]*"/g, '""');
  return [...withoutStrings.matchAll(/\b((?:clawbot|process|nodejs)_[a-zA-Z0-9_]*)/g)].map((match) => match[1] as string);
}

async function exported(): Promise<Map<string, string>> {
  const metrics = createNodeMetrics({ enabled: false, port: 0, host: "127.0.0.1", path: "/metrics" }, { engine: new EchoEngine({ parallel: 1, maxQueue: 1 }), logger: silentLogger });
  await metrics.start({
    gateways: [],
    audit: () => ({ records: 0, appendFailures: 0, sinks: [] }),
    cluster: () => ({ connected: true, reconnects: 0, primary: false, alive: [], restarts: 0, fallbacks: 0, served: { stop: 1 } }),
  });
  const names = new Map<string, string>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) names.set(metric.name, String(metric.type));
  await metrics.close();
  return names;
}

describe("the Grafana dashboard", () => {
  it("is a Grafana dashboard (schemaVersion 39) with a ${DS_PROMETHEUS} input used by every panel, unique ids and laid-out panels", () => {
    const dashboard = JSON.parse(fs.readFileSync(dashboardFile, "utf8")) as { schemaVersion: number; uid: string; title: string; __inputs: { name: string; type: string; pluginId: string }[]; panels: Panel[] };
    expect(dashboard.schemaVersion).toBe(39);
    expect(dashboard.title).toBe("Clawbot");
    expect(dashboard.__inputs).toContainEqual(expect.objectContaining({ name: "DS_PROMETHEUS", type: "datasource", pluginId: "prometheus" }));
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels.filter((each) => each.type !== "row")) {
      expect(panel.datasource?.uid, panel.title).toBe("${DS_PROMETHEUS}");
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
      for (const target of panel.targets ?? []) expect(target.datasource?.uid, panel.title).toBe("${DS_PROMETHEUS}");
    }
    const titles = dashboard.panels.map((panel) => panel.title.toLowerCase()).join("\n");
    for (const topic of ["latency", "first token", "tokens per second", "queue", "cpu", "memory", "connected clients", "abnormal disconnects", "auth failures", "mqtt"]) {
      expect(titles, topic).toContain(topic);
    }
  });

  it("names only metrics the registry exports, with _bucket/_sum/_count only on histograms", async () => {
    const names = await exported();
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(20);
    const unknown: string[] = [];
    for (const expr of queries) {
      const found = metricNames(expr);
      expect(found.length, expr).toBeGreaterThan(0);
      for (const name of found) {
        const histogram = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
        if (names.has(name)) continue;
        if (histogram && names.get(histogram) === "histogram") continue;
        unknown.push(`${name} in ${expr}`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it("would catch a renamed metric (the check reads the registry, not a list)", async () => {
    const names = await exported();
    expect(names.has("clawbot_e2e_request_latency_seconds")).toBe(true);
    expect(metricNames('rate(clawbot_e2e_request_latency_secs_bucket{job=~"clawbot_x"}[1m])')).toEqual(["clawbot_e2e_request_latency_secs_bucket"]);
    expect(names.has("clawbot_e2e_request_latency_secs")).toBe(false);
  });
});

describe("docs/metrics.md", () => {
  it("documents every clawbot_ metric the registry exports, and names none it does not", async () => {
    const names = await exported();
    const text = fs.readFileSync(docsFile, "utf8");
    const documented = new Set([...text.matchAll(/`(clawbot_[a-z0-9_]+)`/g)].map((match) => match[1] as string));
    const ours = [...names.keys()].filter((name) => name.startsWith("clawbot_"));
    expect(ours.filter((name) => !documented.has(name))).toEqual([]);
    expect([...documented].filter((name) => !names.has(name))).toEqual([]);
    // The PromQL examples use real names too.
    const inExamples = [...text.matchAll(/\b(clawbot_[a-z0-9_]+?)(?:_bucket)?\[/g)].map((match) => match[1] as string);
    expect(inExamples.length).toBeGreaterThan(0);
    expect(inExamples.filter((name) => !names.has(name))).toEqual([]);
  });
});
