// Password login for `auth.users`: checks a username and password (bounded, brute-force braked) and signs the user's token.
import { randomBytes } from "node:crypto";
import { decodeJwt } from "jose";
import type { JwtAuthConfig } from "../config/schema.js";
import { ClawError } from "../core/errors.js";
import { issueGatewayToken, parseTtl } from "./jwt-issuer.js";
import { LoginFailures } from "./login-failures.js";
import { hashWith, parsePasswordHash, verifyPassword } from "./password-hash.js";

/** What a successful login gets (POST /auth/login answers it as JSON). */
export interface LoginResult {
  token: string;
  /** When the token expires, epoch milliseconds. */
  expiresAt: number;
  subject: string;
  roles: string[];
  scopes: string[];
}

/** Why an attempt was refused, for the gateway's authFailed event (the client only ever sees the one message). */
export type LoginRefusal = "unknown user" | "wrong password" | "too many failures";

export interface LoginAttempt {
  username: string;
  password: string;
  /** The client's address (counted by the brute-force brake). */
  remote: string | undefined;
}

export interface LoginService {
  /**
   * The token, or a ClawError: unauthorized (wrong name or password) and rate_limited (too many failures), each told
   * to onRefused first; overloaded (too many checks at once: not a refused credential) is only thrown.
   */
  login(attempt: LoginAttempt, onRefused?: (reason: LoginRefusal, error: ClawError) => void): Promise<LoginResult>;
}

/** The one answer to a wrong password and an unknown user alike: it must not tell which. */
export const loginRefusedMessage = "The username or password is wrong.";
export const defaultLoginTtl = "8h";

/** Password checks running at once; the rest wait (up to maxWaiting). scrypt runs on libuv's 4 threads, which fs needs too. */
const maxRunning = 2;
const maxWaiting = 8;

type UsersAuth = JwtAuthConfig & { secret: string; users: NonNullable<JwtAuthConfig["users"]> };

/** The login of a gateway whose jwt auth has `users` (and `secret`), or undefined when it has none. Throws on a bad `password_hash`. */
export function createLoginService(auth: JwtAuthConfig | { type: "none" }, options: { failures?: LoginFailures } = {}): LoginService | undefined {
  if (auth.type !== "jwt" || !auth.users?.length) return undefined;
  if (auth.secret === undefined) throw new Error("auth.users needs auth.secret: the node signs the tokens of people who log in with it");
  const usersAuth = auth as UsersAuth;
  const ttl = usersAuth.login_ttl ?? defaultLoginTtl;
  parseTtl(ttl);
  usersAuth.users.forEach((user, index) => {
    checkHash(user.password_hash, index);
    if (usersAuth.users.findIndex((other) => other.username === user.username) !== index) throw new Error(`auth.users[${index}]: the username "${user.username}" is given twice`);
  });
  const users = new Map(usersAuth.users.map((user) => [user.username, user]));
  // An unknown user is checked against this stand-in with the first user's cost, so it takes as long as a wrong password.
  const first = usersAuth.users[0] as (typeof usersAuth.users)[number];
  const standIn = hashWith(randomBytes(16).toString("base64url"), parsePasswordHash(first.password_hash), randomBytes(16));
  standIn.catch(() => undefined);
  const failures = options.failures ?? new LoginFailures();
  const gate = new Gate(maxRunning, maxWaiting);

  return {
    async login({ username, password, remote }, onRefused = () => undefined) {
      const refuse = (reason: LoginRefusal, error: ClawError): never => {
        onRefused(reason, error);
        throw error;
      };
      const retryAfter = failures.retryAfter(username, remote);
      if (retryAfter !== undefined) {
        refuse("too many failures", new ClawError("rate_limited", `Too many failed logins; try again in ${retryAfter} s.`, { retryAfter }));
      }
      const user = users.get(username);
      if (!(await gate.enter())) throw new ClawError("overloaded", "Too many logins are being checked; retry in a moment.");
      let matches: boolean;
      try {
        matches = await verifyPassword(password, user?.password_hash ?? (await standIn));
      } finally {
        gate.leave();
      }
      if (!user || !matches) {
        failures.failed(username, remote);
        refuse(user ? "wrong password" : "unknown user", new ClawError("unauthorized", loginRefusedMessage));
      }
      const found = user as NonNullable<typeof user>;
      failures.succeeded(username);
      const token = await issueGatewayToken(usersAuth, { subject: found.username, roles: found.roles, scopes: found.scopes, ttl });
      const expiry = decodeJwt(token).exp as number;
      return { token, expiresAt: expiry * 1000, subject: found.username, roles: [...found.roles], scopes: [...found.scopes] };
    },
  };
}

/** A hash the login could never check fails the start, naming the user's entry. */
function checkHash(encoded: string, index: number): void {
  try {
    parsePasswordHash(encoded);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`auth.users[${index}].password_hash: ${reason}; make one with \`clawbot auth hash-password\``);
  }
}

/** At most `running` holders, `waiting` more queued; enter() is false (refuse) beyond that. */
class Gate {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly running: number,
    private readonly waiting: number,
  ) {}

  enter(): boolean | Promise<boolean> {
    if (this.active < this.running) {
      this.active += 1;
      return true;
    }
    if (this.queue.length >= this.waiting) return false;
    return new Promise((resolve) => this.queue.push(() => resolve(true)));
  }

  leave(): void {
    const next = this.queue.shift();
    // The slot passes straight to the next waiter: active stays the same.
    if (next) next();
    else this.active -= 1;
  }
}
