// The login brake: 5 failures in 5 minutes per username or address, the window sliding, success clearing, the maps bounded.
import { describe, expect, it } from "vitest";
import { addressKey, LoginFailures } from "./login-failures.js";

function clocked(options: { maxEntries?: number } = {}) {
  const clock = { now: 1_000_000 };
  return { clock, failures: new LoginFailures({ ...options, now: () => clock.now }) };
}

describe("LoginFailures", () => {
  it("refuses after 5 failures for a username, until the oldest leaves the 5-minute window", () => {
    const { clock, failures } = clocked();
    for (let attempt = 0; attempt < 5; attempt += 1) {
      expect(failures.retryAfter("alice", `10.0.0.${attempt}`)).toBeUndefined();
      failures.failed("alice", `10.0.0.${attempt}`);
      clock.now += 10_000;
    }
    // The first failure was 50 s ago: it leaves the window in 250 s.
    expect(failures.retryAfter("alice", "10.9.9.9")).toBe(250);
    expect(failures.retryAfter("bob", "10.9.9.9")).toBeUndefined();
    clock.now += 250_000;
    expect(failures.retryAfter("alice", "10.9.9.9")).toBeUndefined();
  });

  it("refuses after 5 failures from an address, whatever the username", () => {
    const { failures } = clocked();
    for (const name of ["a", "b", "c", "d", "e"]) failures.failed(name, "192.0.2.7");
    expect(failures.retryAfter("someone-else", "192.0.2.7")).toBe(300);
    expect(failures.retryAfter("someone-else", "192.0.2.8")).toBeUndefined();
    // The same client over IPv4-mapped IPv6.
    expect(failures.retryAfter("someone-else", "::ffff:192.0.2.7")).toBe(300);
  });

  it("clears a username's count on success, not its address's", () => {
    const { failures } = clocked();
    for (let attempt = 0; attempt < 4; attempt += 1) failures.failed("alice", "192.0.2.1");
    failures.succeeded("alice");
    failures.failed("alice", "192.0.2.2");
    expect(failures.retryAfter("alice", "192.0.2.3")).toBeUndefined();
    failures.failed("mallory", "192.0.2.1");
    expect(failures.retryAfter("x", "192.0.2.1")).toBe(300);
  });

  it("stays bounded, forgetting the entries that failed longest ago", () => {
    const { clock, failures } = clocked({ maxEntries: 100 });
    for (let index = 0; index < 1000; index += 1) {
      failures.failed(`user-${index}`, `198.51.100.${index % 250}`);
      clock.now += 1;
    }
    expect(failures.size.usernames).toBe(100);
    expect(failures.size.addresses).toBe(100);
    for (let attempt = 0; attempt < 5; attempt += 1) failures.failed("target", "203.0.113.1");
    expect(failures.retryAfter("target", undefined)).toBeGreaterThan(0);
  });

  it("forgets expired entries instead of keeping them", () => {
    const { clock, failures } = clocked();
    failures.failed("alice", "192.0.2.1");
    clock.now += 5 * 60_000;
    expect(failures.retryAfter("alice", "192.0.2.1")).toBeUndefined();
    expect(failures.size).toEqual({ usernames: 0, addresses: 0 });
  });
});

describe("addressKey", () => {
  it("counts IPv4 as is, IPv4-mapped IPv6 as IPv4, and IPv6 by its /64", () => {
    expect(addressKey("192.0.2.1")).toBe("192.0.2.1");
    expect(addressKey("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(addressKey("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:0db8:0001:0002:bbbb:cccc:dddd:eeee")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:db8::5")).toBe("2001:db8:0:0::/64");
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
    expect(addressKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
  });
});
