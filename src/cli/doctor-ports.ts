// `clawbot doctor`'s port checks: every gateway listener and the metrics listener can be bound now (or a node of this data dir holds it).
import net from "node:net";
import type { ClawbotConfig } from "../config/schema.js";
import { runningNode } from "../daemon/pid-file.js";
import { resolveGatewayConfig } from "../gateways/registry.js";
import { fail, ok, type DoctorCheck } from "./doctor-check.js";

interface Listener {
  host: string;
  port: number;
  /** What listens there, with the config key to change: "gateways[0] (websocket)", "metrics". */
  users: string[];
}

/** The listeners the node would open: websocket and http gateways sharing a host:port are one. */
export function listeners(config: ClawbotConfig): Listener[] {
  const byAddress = new Map<string, Listener>();
  const add = (host: string, port: number, user: string) => {
    const key = `${host}:${port}`;
    const listener = byAddress.get(key) ?? { host, port, users: [] };
    listener.users.push(user);
    byAddress.set(key, listener);
  };
  config.gateways.forEach((entry, index) => {
    const gateway = resolveGatewayConfig(entry, `gateways[${index}]`);
    if (gateway.type === "websocket" || gateway.type === "http") add(gateway.host, gateway.port, `gateways[${index}] (${gateway.type})`);
    // A custom adapter that listens declares host and port among its own keys (e.g. tcp-ndjson).
    else if (gateway.type === "custom" && typeof gateway.port === "number") add(typeof gateway.host === "string" ? gateway.host : "127.0.0.1", gateway.port, `gateways[${index}] (${gateway.protocol})`);
  });
  if (config.metrics.enabled) add(config.metrics.host, config.metrics.port, "metrics");
  return [...byAddress.values()];
}

export async function portChecks(config: ClawbotConfig, dataDir: string): Promise<DoctorCheck[]> {
  const node = runningNode(dataDir);
  return Promise.all(
    listeners(config).map(async ({ host, port, users }): Promise<DoctorCheck> => {
      const name = `port ${host}:${port}`;
      const who = users.join(", ");
      if (port === 0) return ok(name, `${who}: any free port, chosen at start`);
      const problem = await tryBind(host, port);
      if (problem === undefined) return ok(name, `${who}: free`);
      const key = users[0] === "metrics" ? "metrics.port" : `${users[0]?.split(" ")[0]}.port`;
      if (problem === "EADDRINUSE") {
        if (node) return ok(name, `${who}: held by the Clawbot node already running on this data dir (pid ${node.pid})`);
        return fail(name, `port ${port} on ${host} is in use by another program (${who} cannot listen)`, `stop that program (ss -ltnp 'sport = :${port}' names it) or change ${key} in the config`);
      }
      if (problem === "EACCES") return fail(name, `${who}: this user may not listen on port ${port}`, `use a port of 1024 or above in ${key}, or give the node CAP_NET_BIND_SERVICE (systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE)`);
      if (problem === "EADDRNOTAVAIL" || problem === "ENOTFOUND" || problem === "EAI_AGAIN") {
        return fail(name, `${who}: ${host} is not an address of this machine`, `set the host to an address of this machine (127.0.0.1, 0.0.0.0 for every interface)`);
      }
      return fail(name, `${who}: cannot listen (${problem})`, `check ${key} and the host`);
    }),
  );
}

/** Binds and closes at once: undefined when it could listen, else the error code. */
function tryBind(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}
