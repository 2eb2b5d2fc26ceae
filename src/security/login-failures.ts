// The password login's brute-force brake: failures counted per username and per client address in a sliding window, in memory.
import net from "node:net";

export interface LoginFailureOptions {
  /** Failures within the window after which further attempts are refused (5). */
  maxFailures?: number;
  /** The window, in milliseconds (5 minutes). */
  windowMs?: number;
  /** Usernames and addresses remembered at most; the oldest are forgotten first (10 000 of each). */
  maxEntries?: number;
  now?: () => number;
}

/**
 * After `maxFailures` failed logins within `windowMs` for one username or from one client address, further attempts
 * are refused until the oldest of those failures leaves the window. A success clears its username's count (not its
 * address's: one address may try many usernames). Memory only: a restart forgets, and the maps are bounded.
 */
export class LoginFailures {
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  /** Times of recent failures, oldest first, at most maxFailures each. Map order is insertion order: oldest key first. */
  private readonly byUsername = new Map<string, number[]>();
  private readonly byAddress = new Map<string, number[]>();

  constructor(options: LoginFailureOptions = {}) {
    this.maxFailures = options.maxFailures ?? 5;
    this.windowMs = options.windowMs ?? 5 * 60_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Whole seconds until an attempt for this username from this address may be tried, or undefined when it may now. */
  retryAfter(username: string, address: string | undefined): number | undefined {
    const now = this.now();
    const waits = [this.wait(this.byUsername, username, now), address === undefined ? undefined : this.wait(this.byAddress, addressKey(address), now)];
    const longest = Math.max(...waits.map((wait) => wait ?? 0));
    return longest > 0 ? Math.max(1, Math.ceil(longest / 1000)) : undefined;
  }

  failed(username: string, address: string | undefined): void {
    const now = this.now();
    this.add(this.byUsername, username, now);
    if (address !== undefined) this.add(this.byAddress, addressKey(address), now);
  }

  succeeded(username: string): void {
    this.byUsername.delete(username);
  }

  /** Entries held now (for tests of the bound). */
  get size(): { usernames: number; addresses: number } {
    return { usernames: this.byUsername.size, addresses: this.byAddress.size };
  }

  private wait(map: Map<string, number[]>, key: string, now: number): number | undefined {
    const times = this.recent(map, key, now);
    if (!times || times.length < this.maxFailures) return undefined;
    return (times[0] as number) + this.windowMs - now;
  }

  private add(map: Map<string, number[]>, key: string, now: number): void {
    const times = this.recent(map, key, now) ?? [];
    times.push(now);
    if (times.length > this.maxFailures) times.shift();
    // Moved to the end: the map's first key is the one that failed longest ago.
    map.delete(key);
    map.set(key, times);
    while (map.size > this.maxEntries) map.delete(map.keys().next().value as string);
  }

  /** The key's failures still inside the window (expired ones dropped; the key removed when none are left). */
  private recent(map: Map<string, number[]>, key: string, now: number): number[] | undefined {
    const times = map.get(key);
    if (!times) return undefined;
    while (times.length > 0 && (times[0] as number) <= now - this.windowMs) times.shift();
    if (times.length === 0) {
      map.delete(key);
      return undefined;
    }
    return times;
  }
}

/**
 * The address a client is counted under: an IPv4-mapped IPv6 address as IPv4, and an IPv6 address by its /64
 * prefix (one host usually holds a whole /64, so counting single addresses would let it rotate through them).
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (!net.isIPv6(address)) return address;
  const [head = "", tail = ""] = address.split("%", 1)[0]?.split("::") ?? [];
  const left = head === "" ? [] : head.split(":");
  const right = tail === "" ? [] : tail.split(":");
  const groups = address.includes("::") ? [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(":")}::/64`;
}
