// A streaming IM answer's "so far" text, handed on at most every interval (a platform that updates one message), one update at a time.
import type { StreamPart } from "../../core/types.js";

/** The answer so far, handed to `send` at most every `intervalMs` while it streams; at most one update in the queue. */
export class PartialStream {
  private text = "";
  /** The text up to the last tool result: a `restart` part voids only what came after it. */
  private stable = "";
  private lastSentAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<unknown> | undefined;
  private stopped = false;
  private sentText = "";

  constructor(
    private readonly send: (soFar: string) => Promise<unknown>,
    private readonly intervalMs: number,
  ) {}

  write(part: StreamPart): void {
    if (part.type === "text-delta") this.text += part.text;
    else if (part.type === "tool-result") this.stable = this.text;
    else if (part.type === "restart") this.text = this.stable;
    else return;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.timer || this.inFlight) return;
    const wait = Math.max(0, this.lastSentAt + this.intervalMs - Date.now());
    this.timer = setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.timer = undefined;
    if (this.stopped || this.text.trim() === "" || this.text === this.sentText) return;
    this.lastSentAt = Date.now();
    this.sentText = this.text;
    this.inFlight = this.send(this.text).finally(() => {
      this.inFlight = undefined;
      if (this.text !== this.sentText) this.schedule();
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Resolves once no update is being sent (the final delivery comes after it). */
  async settled(): Promise<void> {
    await this.inFlight;
  }
}
