// The work-queue stream and its pull consumers, created (or brought to the config) by whichever node comes first.
import { AckPolicy, DeliverPolicy, DiscardPolicy, nanos, RetentionPolicy, StorageType, type JetStreamManager } from "nats";
import type { ClusterConfig } from "../config/cluster-schema.js";
import type { ClusterNames } from "./cluster-names.js";

/** Creates the work stream, or updates it when another node created it with other settings; safe to race. */
export async function ensureWorkStream(manager: JetStreamManager, names: ClusterNames, config: ClusterConfig): Promise<void> {
  // A request nobody took is useless after its deadline; a minute of slack covers clocks that differ a little.
  const maxAgeMs = (config.request_timeout_s + 60) * 1000;
  const settings = {
    subjects: [names.workAny, names.workNode("*")],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    num_replicas: config.replicas,
    discard: DiscardPolicy.Old,
    max_age: nanos(maxAgeMs),
    // Nats-Msg-Id dedupe: a gateway retrying a publish after a lost ack does not queue the request twice.
    duplicate_window: nanos(Math.min(120_000, maxAgeMs)),
  };
  try {
    await manager.streams.add({ name: names.workStream, ...settings });
  } catch (error) {
    if (!/already in use|already exists/i.test(String(error))) throw error;
    const { retention, storage, ...changeable } = settings;
    void retention;
    void storage;
    await manager.streams.update(names.workStream, changeable);
  }
}

/** The consumer settings both work consumers share: explicit acks, redelivery after `ack_wait_s`, `max_deliver` tries. */
function consumerSettings(durable: string, filter: string, config: ClusterConfig) {
  return {
    durable_name: durable,
    filter_subject: filter,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(config.ack_wait_s * 1000),
    max_deliver: config.max_deliver,
    // Capacity is bounded by how many messages each worker pulls, not here; this only caps a runaway.
    max_ack_pending: 10_000,
  };
}

/** Creates the shared consumer of `workAny` and this worker's own consumer of `workNode(nodeId)`. */
export async function ensureWorkConsumers(manager: JetStreamManager, names: ClusterNames, config: ClusterConfig, nodeId: string): Promise<void> {
  for (const [durable, filter] of [
    [names.anyConsumer, names.workAny],
    [names.nodeConsumer(nodeId), names.workNode(nodeId)],
  ] as const) {
    const settings = consumerSettings(durable, filter, config);
    try {
      await manager.consumers.add(names.workStream, settings);
    } catch (error) {
      if (!/already (in use|exists)/i.test(String(error))) throw error;
      await manager.consumers.update(names.workStream, durable, { ack_wait: settings.ack_wait, max_deliver: settings.max_deliver, max_ack_pending: settings.max_ack_pending });
    }
  }
}
