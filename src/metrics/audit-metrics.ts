// Audit ledger metrics, read from the ledger's status() on each scrape: records, append failures, each sink's shipping.
import { Counter, Gauge, type Registry } from "prom-client";
import type { AuditStatus } from "../audit/audit-record.js";
import { StatusCounter } from "./status-counter.js";

/** A sink's name without credentials a destination URL may carry (user:password@). */
export function sinkLabel(name: string): string {
  return name.replace(/\/\/[^/@\s]*@/g, "//");
}

/** Registered only when the node has an audit ledger. */
export function auditMetrics(registry: Registry, status: () => AuditStatus): void {
  const bySink = ["sink", "type"] as const;
  const appendFailures = new StatusCounter(
    new Counter({ name: "clawbot_audit_append_failures_total", help: "Audit records that could not be appended (each failed its request with storage_error, or was logged).", registers: [] }),
  );
  const backlog = new Gauge({ name: "clawbot_audit_sink_backlog_records", help: "Records appended and not yet shipped to the sink.", labelNames: bySink, registers: [] });
  const sinkUp = new Gauge({ name: "clawbot_audit_sink_up", help: "1 when the sink's last shipping attempt succeeded.", labelNames: bySink, registers: [] });
  const shipped = new StatusCounter(new Counter({ name: "clawbot_audit_sink_shipped_total", help: "Records shipped to the sink.", labelNames: bySink, registers: [] }));
  const failures = new StatusCounter(new Counter({ name: "clawbot_audit_sink_failures_total", help: "Failed shipping attempts (sink down, refused, timed out, disk full).", labelNames: bySink, registers: [] }));
  // The first gauge reads the status once per scrape and sets the others (registered after it).
  new Gauge({
    name: "clawbot_audit_records",
    help: "Records in the audit ledger (its head sequence).",
    registers: [registry],
    collect() {
      let now: AuditStatus;
      try {
        now = status();
      } catch {
        return;
      }
      this.set(now.records);
      appendFailures.update({}, now.appendFailures);
      backlog.reset();
      sinkUp.reset();
      for (const sink of now.sinks) {
        const labels = { sink: sinkLabel(sink.name), type: sink.type };
        backlog.set(labels, sink.backlog);
        sinkUp.set(labels, sink.up ? 1 : 0);
        shipped.update(labels, sink.shipped);
        failures.update(labels, sink.failures);
      }
    },
  });
  for (const metric of [appendFailures.counter, backlog, sinkUp, shipped.counter, failures.counter]) registry.registerMetric(metric);
}
