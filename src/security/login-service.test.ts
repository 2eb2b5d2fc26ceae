// The login service: one check per attempt (a stand-in hash at the users' cost for unknown names), at most 2 running and 8 waiting, bad config refused.
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { JwtAuthConfig } from "../config/schema.js";
import { ClawError } from "../core/errors.js";
import { LoginFailures } from "./login-failures.js";
import { createLoginService, loginRefusedMessage } from "./login-service.js";
import * as passwordHash from "./password-hash.js";

// verifyPassword spied on: which hash each attempt is checked against, and held open to fill the gate.
vi.mock("./password-hash.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("./password-hash.js")>();
  return { ...original, verifyPassword: vi.fn(original.verifyPassword) };
});

const secret = "login-service-test-secret-0123456789abcdef";
let auth: JwtAuthConfig;

beforeAll(async () => {
  // The smallest accepted cost: these tests are about the service, not scrypt.
  const hash = await passwordHash.hashWith("alice-password", { N: 2 ** 14, r: 8, p: 1 }, Buffer.alloc(16, 7));
  auth = { type: "jwt", secret, clock_tolerance: 30, audience: "clawbot", users: [{ username: "alice", password_hash: hash, roles: ["user"], scopes: ["admin", "x"] }] };
});

const attempt = (username: string, password: string, remote = "192.0.2.1") => ({ username, password, remote });

describe("createLoginService", () => {
  it("is absent without users, and refuses a hash it could never check or a username given twice", () => {
    expect(createLoginService({ type: "none" })).toBeUndefined();
    expect(createLoginService({ type: "jwt", secret, clock_tolerance: 30 })).toBeUndefined();
    const absurd = { username: "x", password_hash: "scrypt$1048576$32$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", roles: [], scopes: [] };
    expect(() => createLoginService({ ...auth, users: [absurd] })).toThrow(/auth\.users\[0\]\.password_hash: .*256 MiB/);
    expect(() => createLoginService({ ...auth, users: [...(auth.users ?? []), ...(auth.users ?? [])] })).toThrow(/auth\.users\[1\]: the username "alice" is given twice/);
  });

  it("signs the user's claims with the gateway's audience, for 8h by default", async () => {
    const result = await createLoginService(auth)?.login(attempt("alice", "alice-password"));
    const claims = decodeJwt(result?.token as string);
    expect(claims).toMatchObject({ sub: "alice", role: "user", scope: "admin x", aud: "clawbot" });
    expect((claims.exp as number) - (claims.iat as number)).toBe(8 * 3600);
    expect(result?.expiresAt).toBe((claims.exp as number) * 1000);
  });

  it("checks an unknown user against a stand-in hash of the users' cost, once, like a wrong password", async () => {
    const service = createLoginService(auth);
    const refusals: string[] = [];
    const verify = vi.mocked(passwordHash.verifyPassword);
    verify.mockClear();
    for (const name of ["alice", "nobody", "__proto__", "constructor"]) {
      const error = await service?.login(attempt(name, "wrong-password", `192.0.2.${refusals.length + 10}`), (reason) => refusals.push(reason)).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(ClawError);
      expect(error).toMatchObject({ code: "unauthorized", message: loginRefusedMessage });
    }
    expect(refusals).toEqual(["wrong password", "unknown user", "unknown user", "unknown user"]);
    expect(verify).toHaveBeenCalledTimes(4);
    const [aliceHash, ...standIns] = verify.mock.calls.map(([, encoded]) => passwordHash.parsePasswordHash(encoded));
    for (const standIn of standIns) expect({ N: standIn.N, r: standIn.r, p: standIn.p }).toEqual({ N: aliceHash?.N, r: aliceHash?.r, p: aliceHash?.p });
  });

  it("runs 2 checks at once, queues 8, and refuses more with overloaded", async () => {
    const service = createLoginService(auth, { failures: new LoginFailures({ maxFailures: 1000 }) });
    const verify = vi.mocked(passwordHash.verifyPassword);
    const held: (() => void)[] = [];
    verify.mockClear();
    verify.mockImplementation(() => new Promise<boolean>((resolve) => held.push(() => resolve(false))));
    try {
      const attempts = Array.from({ length: 11 }, (_, index) => service?.login(attempt(`user-${index}`, "pw", `198.51.100.${index}`)).catch((error: unknown) => error));
      // The 11th is refused at once; only 2 checks started.
      expect(await attempts[10]).toMatchObject({ code: "overloaded" });
      await vi.waitFor(() => expect(held).toHaveLength(2));
      // Each finished check lets the next waiter in.
      while (held.length > 0 || verify.mock.calls.length < 10) {
        held.shift()?.();
        await new Promise((resolve) => setImmediate(resolve));
      }
      for (const outcome of await Promise.all(attempts.slice(0, 10))) expect(outcome).toMatchObject({ code: "unauthorized" });
    } finally {
      verify.mockRestore();
    }
  });

  it("brakes after 5 failures and reports it", async () => {
    const service = createLoginService(auth);
    const reasons: string[] = [];
    for (let index = 0; index < 5; index += 1) await service?.login(attempt("alice", "wrong", "203.0.113.1")).catch(() => undefined);
    const error = await service?.login(attempt("alice", "alice-password", "203.0.113.1"), (reason) => reasons.push(reason)).catch((thrown: unknown) => thrown);
    expect(error).toMatchObject({ code: "rate_limited" });
    expect((error as ClawError).retryAfter).toBeGreaterThan(0);
    expect(reasons).toEqual(["too many failures"]);
  });
});
