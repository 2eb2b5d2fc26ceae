// A Prometheus counter kept equal to a running total another part reports in its status (reconnects, records shipped).
import type { Counter } from "prom-client";

/**
 * Call `update` at each scrape with the source's total now: the counter grows by the difference. A total that went
 * down (its source restarted) counts from zero again, as Prometheus's rate() expects of a counter reset.
 */
export class StatusCounter<Label extends string> {
  private readonly seen = new Map<string, number>();

  constructor(readonly counter: Counter<Label>) {}

  update(labels: Record<Label, string>, total: number | undefined): void {
    if (total === undefined || !Number.isFinite(total) || total < 0) return;
    const key = JSON.stringify(labels);
    const previous = this.seen.get(key) ?? 0;
    this.seen.set(key, total);
    const increase = total >= previous ? total - previous : total;
    if (increase > 0) this.counter.inc(labels as never, increase);
    // A labelled counter appears (at 0) as soon as its source reports, not only after the first increase.
    else this.counter.inc(labels as never, 0);
  }
}
