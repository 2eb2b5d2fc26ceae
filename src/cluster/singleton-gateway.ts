// A gateway only the cluster's primary runs (an MQTT client with the broker session's one client id): started when this
// node becomes primary, stopped when it steps down; a standby waits. The broker keeps the session's queued requests
// between the two, so a takeover loses none.
import type { Gateway, GatewayStatus } from "../gateways/gateway.js";
import type { Logger } from "../logging/logger.js";
import type { Leadership } from "./leadership.js";

export interface SingletonGatewayOptions {
  /** Builds a fresh gateway each time this node becomes primary (a stopped gateway is not started again). */
  create(): Promise<Gateway>;
  leadership: Leadership;
  /** The gateway's type ("mqtt") and its name while standing by. */
  type: string;
  name: string;
  logger: Logger;
}

export class SingletonGateway implements Gateway {
  readonly name: string;
  private inner: Gateway | undefined;
  /** Transitions run one after another (become primary, step down, stop), never interleaved. */
  private transitions: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly options: SingletonGatewayOptions) {
    this.name = `${options.name} (primary only)`;
  }

  async start(): Promise<void> {
    this.unsubscribe = this.options.leadership.onChange((primary) => this.follow(primary));
    this.follow(this.options.leadership.isPrimary());
    await this.transitions;
  }

  pause(): Promise<void> | void {
    return this.inner?.pause?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.follow(false);
    await this.transitions;
  }

  status(): GatewayStatus {
    if (this.inner) return this.inner.status();
    return { type: this.options.type, name: this.name, state: this.stopped ? "stopped" : "standby", healthy: !this.stopped, connections: 0 };
  }

  private follow(primary: boolean): void {
    this.transitions = this.transitions.then(async () => {
      try {
        if (primary && !this.stopped && !this.inner) {
          const gateway = await this.options.create();
          await gateway.start();
          this.inner = gateway;
          this.options.logger.info({ gateway: gateway.name }, "this node is primary: singleton gateway started");
        } else if (!primary && this.inner) {
          const gateway = this.inner;
          this.inner = undefined;
          await gateway.pause?.();
          await gateway.stop();
          this.options.logger.info({ gateway: gateway.name }, "singleton gateway stopped (this node is not primary)");
        }
      } catch (error) {
        this.options.logger.error({ err: error, gateway: this.options.name }, "starting or stopping the singleton gateway failed");
      }
    });
  }
}
