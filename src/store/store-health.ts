// Whether the node's database is working: the last write failed (disk full, read-only, damaged) or not.
import { describeSqliteFailure } from "./storage-error.js";

export class StoreHealth {
  private failure: string | undefined;

  /** False after a failed write until a later write succeeds; `/readyz` reports the store as degraded meanwhile. */
  get healthy(): boolean {
    return this.failure === undefined;
  }

  /** Why the store is degraded (undefined when healthy). */
  get reason(): string | undefined {
    return this.failure;
  }

  failed(error: unknown): void {
    this.failure = describeSqliteFailure(error);
  }

  succeeded(): void {
    this.failure = undefined;
  }
}
