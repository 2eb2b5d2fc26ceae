// The work stream and consumers: created by whichever node comes first (racing is safe), brought to a changed config.
import { connect } from "nats";
import { afterAll, beforeAll, expect, it } from "vitest";
import { NatsServer } from "../../test/helpers/nats-server.js";
import { clusterSchema } from "../config/cluster-schema.js";
import { clusterNames } from "./cluster-names.js";
import { ensureWorkConsumers, ensureWorkStream } from "./work-stream.js";

let server: NatsServer;
beforeAll(async () => {
  server = await NatsServer.start();
});
afterAll(async () => {
  await server?.close();
});

it("creates the work stream and consumers idempotently and updates them to a changed config", async () => {
  const connection = await connect({ servers: server.url });
  try {
    const manager = await connection.jetstreamManager();
    const first = clusterSchema.parse({ nats: server.url, name: "ensure", ack_wait_s: 1 });
    const changed = clusterSchema.parse({ nats: server.url, name: "ensure", ack_wait_s: 2, request_timeout_s: 100, max_deliver: 5 });
    const names = clusterNames(first);
    await Promise.all([ensureWorkStream(manager, names, first), ensureWorkStream(manager, names, first)]);
    await Promise.all([ensureWorkConsumers(manager, names, first, "n1"), ensureWorkConsumers(manager, names, first, "n2")]);
    await ensureWorkStream(manager, names, changed);
    await ensureWorkConsumers(manager, names, changed, "n1");
    const stream = await manager.streams.info(names.workStream);
    expect(stream.config).toMatchObject({ retention: "workqueue", subjects: [names.workAny, names.workNode("*")], max_age: 160 * 1e9 });
    const shared = await manager.consumers.info(names.workStream, names.anyConsumer);
    expect(shared.config).toMatchObject({ filter_subject: names.workAny, ack_wait: 2e9, max_deliver: 5, ack_policy: "explicit" });
    const own = await manager.consumers.info(names.workStream, names.nodeConsumer("n2"));
    expect(own.config).toMatchObject({ filter_subject: names.workNode("n2"), ack_wait: 1e9, max_deliver: 3 });
  } finally {
    await connection.close();
  }
});
