// A bounded memory of request keys already taken (running or answered), so a redelivered duplicate is not run twice.

export interface RecentRequestsOptions {
  /** Most keys remembered; the oldest are forgotten first. */
  capacity: number;
  /** How long a key is remembered, in milliseconds. */
  ttlMs: number;
  now?: () => number;
}

export class RecentRequests {
  /** Key → expiry time; a Map keeps insertion order, so the oldest entries come first. */
  private readonly entries = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly options: RecentRequestsOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  has(key: string): boolean {
    const expiresAt = this.entries.get(key);
    if (expiresAt === undefined) return false;
    if (expiresAt > this.now()) return true;
    this.entries.delete(key);
    return false;
  }

  add(key: string): void {
    this.entries.delete(key);
    this.entries.set(key, this.now() + this.options.ttlMs);
    this.evict();
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  private evict(): void {
    const now = this.now();
    for (const [key, expiresAt] of this.entries) {
      if (this.entries.size <= this.options.capacity && expiresAt > now) break;
      this.entries.delete(key);
    }
  }
}
