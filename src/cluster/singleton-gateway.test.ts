// A singleton gateway runs only while its node is primary: a fresh gateway each time it becomes primary, stopped when it steps down.
import { describe, expect, it } from "vitest";
import type { Gateway, GatewayStatus } from "../gateways/gateway.js";
import { silentLogger } from "../logging/logger.js";
import type { Leadership } from "./leadership.js";
import { SingletonGateway } from "./singleton-gateway.js";

class FakeLeadership implements Leadership {
  primary = false;
  private readonly listeners = new Set<(primary: boolean) => void>();
  isPrimary = () => this.primary;
  holder = () => (this.primary ? "me" : "other");
  onChange(listener: (primary: boolean) => void) {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
  set(primary: boolean) {
    this.primary = primary;
    for (const listener of this.listeners) listener(primary);
  }
  async close() {}
}

class RecordingGateway implements Gateway {
  readonly name: string;
  readonly events: string[] = [];
  constructor(index: number) {
    this.name = `mqtt #${index}`;
  }
  async start() {
    this.events.push("start");
  }
  pause() {
    this.events.push("pause");
  }
  async stop() {
    this.events.push("stop");
  }
  status(): GatewayStatus {
    return { type: "mqtt", name: this.name, state: "connected", healthy: true, connections: 1 };
  }
}

async function settle(): Promise<void> {
  for (let index = 0; index < 5; index += 1) await new Promise((resolve) => setImmediate(resolve));
}

describe("SingletonGateway", () => {
  it("stands by until primary, runs a fresh gateway each time it becomes primary, stops it on stepping down", async () => {
    const leadership = new FakeLeadership();
    const created: RecordingGateway[] = [];
    const gateway = new SingletonGateway({
      create: async () => {
        const inner = new RecordingGateway(created.length + 1);
        created.push(inner);
        return inner;
      },
      leadership,
      type: "mqtt",
      name: "mqtt broker:1883",
      logger: silentLogger,
    });
    await gateway.start();
    expect(created).toHaveLength(0);
    expect(gateway.status()).toMatchObject({ state: "standby", healthy: true, connections: 0 });

    leadership.set(true);
    await settle();
    expect(created).toHaveLength(1);
    expect(created[0]?.events).toEqual(["start"]);
    expect(gateway.status()).toMatchObject({ state: "connected", name: "mqtt #1" });

    leadership.set(false);
    await settle();
    expect(created[0]?.events).toEqual(["start", "pause", "stop"]);
    expect(gateway.status().state).toBe("standby");

    leadership.set(true);
    await settle();
    expect(created).toHaveLength(2);
    await gateway.stop();
    expect(created[1]?.events).toEqual(["start", "pause", "stop"]);
    expect(gateway.status()).toMatchObject({ state: "stopped", healthy: false });
    // A stopped singleton does not start again when the node becomes primary once more.
    leadership.set(false);
    leadership.set(true);
    await settle();
    expect(created).toHaveLength(2);
  });

  it("starts at once on a node that is already primary", async () => {
    const leadership = new FakeLeadership();
    leadership.primary = true;
    const inner = new RecordingGateway(1);
    const gateway = new SingletonGateway({ create: async () => inner, leadership, type: "mqtt", name: "mqtt", logger: silentLogger });
    await gateway.start();
    expect(inner.events).toEqual(["start"]);
    await gateway.stop();
  });
});
