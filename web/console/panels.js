// Fills the console's panels from one `GET /admin/status` answer: node, traffic sparklines, cluster, gateways, audit chain, knowledge base.
import { text } from "./console-text.js";
import { drawSparkline } from "./sparkline.js";

/** @param {string} id */
const byTestId = (id) => /** @type {HTMLElement} */ (document.querySelector(`[data-testid="${id}"]`));

/** @param {string} id @param {unknown} value */
function setText(id, value) {
  byTestId(id).textContent = value === null || value === undefined || value === "" ? text("noData") : String(value);
}

/** @param {string} tag @param {string} [className] @param {string} [content] */
function element(tag, className, content) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (content !== undefined) made.textContent = content;
  return made;
}

/** @param {number} seconds */
function duration(seconds) {
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (days > 0) return `${days}d ${hours}h`;
  if (hours > 0) return `${hours}h ${minutes}m`;
  return `${minutes}m ${seconds % 60}s`;
}

/** @param {number} bytes */
function megabytes(bytes) {
  return `${Math.round(bytes / (1024 * 1024))} MiB`;
}

/** @param {number | null | undefined} value @param {number} digits */
function fixed(value, digits) {
  return typeof value === "number" ? value.toFixed(digits) : text("noData");
}

/** @param {any} status the answer of GET /admin/status */
export function renderStatus(status) {
  renderNode(status.node);
  renderTraffic(status.traffic);
  renderCluster(status.cluster);
  renderGateways(status.gateways ?? []);
  renderAudit(status.audit);
  renderKnowledge(status.knowledge);
}

function renderNode(node) {
  setText("node-id", node.id);
  const ready = byTestId("node-ready");
  ready.textContent = node.ready ? text("ready") : text("notReady");
  ready.dataset.state = node.ready ? "ok" : "bad";
  setText("node-model", node.model);
  setText("node-engine", `${node.engine} · ${node.backend}`);
  setText("node-sequences", `${node.free_sequences} / ${node.parallel}`);
  setText("queue-depth", `${node.queue_depth} / ${node.max_queue}`);
  setText("node-uptime", duration(node.uptime_s));
  setText("node-version", node.version);
}

function renderTraffic(traffic) {
  const samples = traffic?.samples ?? [];
  byTestId("traffic-window").textContent = text("window", traffic?.interval_s ?? 0, samples.length);
  const last = samples.at(-1);
  const series = [
    ["request-rate", "requests_per_s", (value) => fixed(value, 2)],
    ["p99-latency", "p99_ms", (value) => (typeof value === "number" ? `${value.toFixed(0)} ms` : text("noData"))],
    ["tokens-per-second", "tokens_per_s", (value) => fixed(value, 1)],
  ];
  for (const [id, key, format] of series) {
    const metric = byTestId(id);
    metric.querySelector(".metric-value").textContent = last ? format(last[key]) : text("noData");
    drawSparkline(metric.querySelector("svg"), samples.map((sample) => sample[key]));
  }
}

function renderCluster(cluster) {
  const panel = byTestId("cluster-panel");
  panel.hidden = !cluster;
  if (!cluster) return;
  byTestId("cluster-summary").textContent = text("clusterSummary", cluster.name, cluster.leader, cluster.connected);
  const rows = cluster.nodes.map((member) => {
    const row = element("tr");
    row.dataset.state = member.alive ? "ok" : "bad";
    const state = `${member.alive ? text("alive") : text("gone")}${member.primary ? ` · ${text("primary")}` : ""}`;
    const cells = [member.node_id, state, member.model || text("noData"), `${member.free} / ${member.total}`, member.queued, `${Math.round(member.cpu * 100)}%`, megabytes(member.memory_bytes)];
    for (const cell of cells) row.append(element("td", undefined, String(cell)));
    return row;
  });
  byTestId("cluster-list").querySelector("tbody").replaceChildren(...rows);
}

function renderGateways(gateways) {
  const items = gateways.map((gateway) => {
    const item = element("li", "list-item");
    item.dataset.state = gateway.healthy ? "ok" : "bad";
    item.append(
      element("span", "item-title", gateway.name),
      element("span", "badge", `${gateway.state} · ${gateway.healthy ? text("healthy") : text("unhealthy")}`),
      element("span", "item-detail", [text("connections", gateway.connections), text("refused", gateway.frames_refused), text("abnormal", gateway.abnormal_closes)].join(" · ")),
    );
    return item;
  });
  byTestId("gateway-list").replaceChildren(...(items.length > 0 ? items : [element("li", "hint", text("noGateways"))]));
}

function renderAudit(audit) {
  const badge = byTestId("audit-status");
  const problem = byTestId("audit-problem");
  if (!audit?.enabled) {
    badge.textContent = text("auditOff");
    badge.dataset.state = "off";
    setText("audit-verified", null);
    setText("audit-head", null);
    problem.hidden = true;
    return;
  }
  badge.textContent = audit.verified_ok ? text("auditOk") : text("auditBroken", audit.broken_at);
  badge.dataset.state = audit.verified_ok ? "ok" : "bad";
  setText("audit-verified", text("sequence", audit.verified_sequence));
  byTestId("audit-head").textContent = `${text("sequence", audit.head_sequence)} · ${audit.head_hash}`;
  problem.hidden = audit.verified_ok;
  problem.textContent = audit.message ?? "";
}

function renderKnowledge(knowledge) {
  const list = byTestId("knowledge-list");
  if (!knowledge) return list.replaceChildren(element("li", "hint", text("knowledgeOff")));
  const items = knowledge.collections.map((collection) => {
    const item = element("li", "list-item");
    item.dataset.collection = collection.name;
    item.append(element("span", "item-title", collection.name), element("span", "item-detail", text("collection", collection.documents, collection.chunks)));
    return item;
  });
  list.replaceChildren(...(items.length > 0 ? items : [element("li", "hint", text("knowledgeEmpty"))]));
}
