// The nats-server test helper starts a JetStream server the `nats` client can use, and stops it.
import { connect } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsServer } from "../helpers/nats-server.js";

describe("the nats-server test helper", () => {
  let server: NatsServer;
  beforeAll(async () => {
    server = await NatsServer.start();
  });
  afterAll(async () => {
    await server?.close();
  });

  it("serves JetStream on a loopback port", async () => {
    const connection = await connect({ servers: server.url });
    try {
      const manager = await connection.jetstreamManager();
      const info = await manager.getAccountInfo();
      expect(info.limits).toBeDefined();
    } finally {
      await connection.close();
    }
  });
});
