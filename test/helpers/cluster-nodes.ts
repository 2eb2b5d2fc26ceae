// Starts real Clawbot node processes (`clawbot start`) joined into one cluster over a test nats-server, and reads their logs.
import fs from "node:fs";
import path from "node:path";
import { connect, type NatsConnection } from "nats";
import { SignJWT } from "jose";
import YAML from "yaml";
import { issueToken } from "../../src/security/jwt-issuer.js";
import { freePort, runCli, sandboxEnv, spawnCli, tempDir, waitUntilReady, type CliProcess } from "./cli-process.js";
import { testModelPath } from "./test-model.js";

/** One JWT secret for every node, so a token works on any of them (as it would behind one load balancer). */
export const clusterSecret = "cluster-test-secret-0123456789-abcdefghij";

export interface ClusterNodeSpec {
  /** `cluster.node_id` (and the top-level `node_id`). */
  id: string;
  /** `agent.parallel` (default 2). */
  parallel?: number;
  /** Extra keys of the `cluster` section (roles, max_deliver, …). */
  cluster?: Record<string, unknown>;
  /** Extra keys of `agent`. */
  agent?: Record<string, unknown>;
  /** More gateways after the websocket and http ones (an MQTT gateway, `cluster_singleton` by default). */
  gateways?: Record<string, unknown>[];
}

export interface ClusterOptions {
  /** The NATS server's URL. */
  nats: string;
  /** `cluster.name` (default "test"). */
  name?: string;
  /** `cluster.ack_wait_s` (default 3: a lost worker's request goes to another within seconds). */
  ackWaitS?: number;
  /** `cluster.heartbeat_s` (default 5, the production value: the 15 s figures of the issue depend on it). */
  heartbeatS?: number;
}

/** One JSON line of a node's log (pino). */
export type LogLine = Record<string, unknown> & { msg?: string; time?: number; level?: number };

export interface ClusterNodeProcess {
  readonly id: string;
  /** The node's folder: its clawbot.yaml, data/ and the sandboxed home. */
  readonly dir: string;
  readonly configFile: string;
  readonly env: NodeJS.ProcessEnv;
  readonly port: number;
  readonly wsUrl: string;
  /** The http gateway (same port): the admin API and the OpenAI API. */
  readonly httpUrl: string;
  /** The process now (a new one after `restart`). */
  readonly cli: CliProcess;
  readonly pid: number;
  /** The metrics URL the ready block printed, when there is one. */
  readonly metricsUrl: string | undefined;
  /** Every JSON log line of every process this node has run, oldest first (pino's `pid` tells the processes apart). */
  logs(): LogLine[];
  /** The processes this node has run, oldest first: pid and when it exited (epoch ms; undefined while it runs). */
  processes(): { pid: number; exitedAt: number | undefined }[];
  /** Sends a signal (SIGKILL, SIGSTOP, SIGCONT, SIGTERM) to the node's process. */
  signal(signal: NodeJS.Signals): void;
  /** Starts the node again (after it exited), optionally with other settings; resolves once it is ready. */
  restart(spec?: Partial<ClusterNodeSpec>): Promise<void>;
  /** Stops the node with SIGTERM and waits for it to exit. */
  stop(): Promise<void>;
  /** Runs another clawbot command with this node's config (`kb ingest`, `cluster status`, …). */
  run(args: string[], timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

export async function clusterToken(subject = "alice"): Promise<string> {
  return issueToken({ secret: clusterSecret, subject, roles: ["user"], ttl: "1h" });
}

/** A token with scope `admin` (the http gateway's /admin routes). */
export async function clusterAdminToken(subject = "ops"): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: "admin" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(subject)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(new TextEncoder().encode(clusterSecret));
}

/** One generation as seen on the wire: the gateway that queued it and the worker whose answer finished it. */
export interface ObservedWork {
  id: string;
  gateway: string;
  /** Workers that started it, in order (one per try). */
  started: { node: string; attempt: number; delivery: number; at: number }[];
  /** The worker whose `finish` part reached the gateway, once one did. */
  finishedBy: string | undefined;
}

/**
 * Listens, as one more NATS client, to the workers' replies on the cluster's reply subjects (`clawbot.<name>.reply.
 * <gateway>.<id>`): who started and who finished each generation. Core NATS gives every subscriber a copy, so the
 * nodes are not disturbed. It reads the wire format of src/cluster/work-protocol.ts.
 */
export class WorkObserver {
  readonly works = new Map<string, ObservedWork>();

  private constructor(private readonly connection: NatsConnection) {}

  static async start(natsUrl: string, clusterName = "test"): Promise<WorkObserver> {
    const connection = await connect({ servers: natsUrl, name: "cluster-test-observer" });
    const observer = new WorkObserver(connection);
    const prefix = `clawbot.${clusterName}.reply.`;
    connection.subscribe(`${prefix}>`, {
      callback: (error, message) => {
        if (error) return;
        const [gateway = "", id = ""] = message.subject.slice(prefix.length).split(".");
        let reply: { type?: string; node?: string; attempt?: number; delivery?: number; part?: { type?: string } };
        try {
          reply = JSON.parse(new TextDecoder().decode(message.data)) as typeof reply;
        } catch {
          return;
        }
        const work = observer.works.get(id) ?? { id, gateway, started: [], finishedBy: undefined };
        observer.works.set(id, work);
        if (reply.type === "start" && typeof reply.node === "string") {
          work.started.push({ node: reply.node, attempt: reply.attempt ?? 0, delivery: reply.delivery ?? 0, at: Date.now() });
        } else if (reply.type === "part" && reply.part?.type === "finish") {
          const by = work.started.find((start) => start.attempt === reply.attempt && start.delivery === reply.delivery);
          work.finishedBy = by?.node;
        }
      },
    });
    await connection.flush();
    return observer;
  }

  /** The works first seen after `since` (epoch ms). */
  since(since: number): ObservedWork[] {
    return [...this.works.values()].filter((work) => (work.started[0]?.at ?? Number.POSITIVE_INFINITY) >= since);
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}

/** Starts the nodes at once and resolves when every one is ready (its gateway listening, its model loaded). */
export async function startClusterNodes(specs: ClusterNodeSpec[], options: ClusterOptions): Promise<ClusterNodeProcess[]> {
  const modelPath = await testModelPath();
  return Promise.all(specs.map((spec) => startClusterNode(spec, options, modelPath)));
}

async function startClusterNode(initial: ClusterNodeSpec, options: ClusterOptions, modelPath: string): Promise<ClusterNodeProcess> {
  const dir = tempDir(`clawbot-cluster-${initial.id}-`);
  const configFile = path.join(dir, "clawbot.yaml");
  const env = sandboxEnv(dir);
  const port = await freePort();
  let spec = initial;
  let cli!: CliProcess;
  let metricsUrl: string | undefined;
  // The log lines of earlier processes of this node (before a restart).
  let earlier: LogLine[] = [];
  const processes: { pid: number; exitedAt: number | undefined }[] = [];

  const writeConfig = () => {
    const config = {
      node_id: spec.id,
      log_level: "info",
      shutdown_grace: 2,
      agent: { model_path: modelPath, data_dir: "./data", parallel: spec.parallel ?? 2, max_queue: 64, temperature: 0, ...spec.agent },
      gateways: [
        { type: "websocket", port, auth: { type: "jwt", secret: clusterSecret } },
        { type: "http", port, auth: { type: "jwt", secret: clusterSecret } },
        ...(spec.gateways ?? []),
      ],
      metrics: { port: 0 },
      knowledge: { enabled: true },
      cluster: {
        nats: options.nats,
        name: options.name ?? "test",
        node_id: spec.id,
        heartbeat_s: options.heartbeatS ?? 5,
        ack_wait_s: options.ackWaitS ?? 3,
        ...spec.cluster,
      },
    };
    fs.writeFileSync(configFile, YAML.stringify(config));
  };

  const launch = async () => {
    writeConfig();
    cli = spawnCli(["start", "--config", configFile], { cwd: dir, env });
    const record = { pid: cli.child.pid!, exitedAt: undefined as number | undefined };
    processes.push(record);
    void cli.exited.then(() => (record.exitedAt = Date.now()));
    await waitUntilReady(cli, 120_000);
    metricsUrl = cli.stdout().match(/^ {2}metrics (http:\/\/\S+)$/m)?.[1];
  };
  await launch();

  const node: ClusterNodeProcess = {
    id: initial.id,
    dir,
    configFile,
    env,
    port,
    wsUrl: `ws://127.0.0.1:${port}/`,
    httpUrl: `http://127.0.0.1:${port}`,
    get cli() {
      return cli;
    },
    get pid() {
      return cli.child.pid!;
    },
    get metricsUrl() {
      return metricsUrl;
    },
    logs: () => [...earlier, ...parseLog(cli.stderr())],
    processes: () => processes.map((entry) => ({ ...entry })),
    signal: (signal) => void cli.child.kill(signal),
    async restart(changes = {}) {
      if (cli.child.exitCode === null && cli.child.signalCode === null) throw new Error(`node ${spec.id} is still running`);
      earlier = node.logs();
      spec = { ...spec, ...changes, id: spec.id };
      await launch();
    },
    async stop() {
      if (cli.child.exitCode !== null || cli.child.signalCode !== null) return;
      cli.child.kill("SIGTERM");
      await cli.exited;
    },
    run: (args, timeoutMs = 60_000) => runCli([...args], { cwd: dir, env, timeoutMs }),
  };
  return node;
}

/** The JSON lines of a log (other lines, such as the config banner, are skipped). */
export function parseLog(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      // A line cut by a kill -9.
    }
  }
  return lines;
}

export async function until<T>(condition: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs: number, describe: () => string = () => ""): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
