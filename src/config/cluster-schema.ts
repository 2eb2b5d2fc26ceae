// The `cluster` section (docs/cluster.md): the NATS JetStream servers, this node's roles, heartbeats and failover limits.
import { z } from "zod";

/** A NATS server URL: nats:// or tls:// (the client's own schemes). */
const natsUrl = z
  .string()
  .min(1)
  .refine((value) => /^(nats|tls):\/\/[^\s/]+(:\d+)?\/?$/.test(value), { message: "must be a nats:// or tls:// URL (host and optional port)" });

export const clusterRoles = ["gateway", "worker"] as const;
export type ClusterRole = (typeof clusterRoles)[number];

export const clusterSchema = z.strictObject({
  /** The NATS servers (one URL or several of one NATS cluster); the client fails over between them. */
  nats: z.union([natsUrl, z.array(natsUrl).min(1)]).transform((value) => (Array.isArray(value) ? value : [value])),
  /** The cluster's name: its streams, buckets and subjects carry it, so several clusters can share one NATS. */
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, _ and - (up to 64)").default("clawbot"),
  /** This node's id in the cluster; the top-level `node_id` (the host name) when absent. Unique per node. */
  node_id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, _ and - (up to 64)")
    .optional(),
  /** What this node does: `gateway` takes clients' requests, `worker` runs the model for the cluster. */
  roles: z.array(z.enum(clusterRoles)).min(1).default(["gateway", "worker"]),
  /** Seconds between heartbeats (and leader-lease renewals); a node missing 3 is considered dead. */
  heartbeat_s: z.number().min(1).max(60).default(5),
  /** Copies JetStream keeps of each stream and bucket: 1 on one NATS server, 3 on a 3-server NATS cluster. */
  replicas: z.number().int().min(1).max(5).default(1),
  /** Seconds a worker may go without extending its hold on a request before JetStream hands it to another worker. */
  ack_wait_s: z.number().min(1).max(300).default(6),
  /** Workers one request may be tried on (the first delivery included); past it the client gets `worker_lost`. */
  max_deliver: z.number().int().min(1).max(20).default(3),
  /** Seconds a request may wait for a worker and generate in all before it fails (`unavailable` when no worker took it). */
  request_timeout_s: z.number().min(1).max(3600).default(300),
  /** When NATS cannot be reached: `unavailable` answers requests with that code; `local` serves them with this node's model. */
  fallback: z.enum(["unavailable", "local"]).default("unavailable"),
  /** Credentials for NATS: a token, or a user and password; and TLS (a CA file to trust, a client certificate and key). */
  token: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  tls: z
    .strictObject({
      ca_file: z.string().min(1).optional(),
      cert_file: z.string().min(1).optional(),
      key_file: z.string().min(1).optional(),
    })
    .optional(),
});

export type ClusterConfig = z.infer<typeof clusterSchema>;

/** Whether a node loads its model: always when it runs alone; in a cluster only with the `worker` role. */
export function servesModel(config: { cluster?: ClusterConfig }): boolean {
  return !config.cluster || config.cluster.roles.includes("worker");
}
