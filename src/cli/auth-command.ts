// `clawbot auth hash-password`: reads a password (piped, or typed twice without echo) and prints its scrypt hash for auth.users.
import readline from "node:readline";
import { Writable } from "node:stream";
import type { Command } from "commander";

/** Exit code of a refused password (empty, too short, the two typed differently) or a usage error. */
const usageError = 2;
export const minPasswordLength = 8;

const example = `
Reads the password from stdin when it is piped (its first line), else asks twice
on the terminal without echo. Prints only the hash on stdout, for auth.users:

  $ clawbot auth hash-password > alice.hash
  $ printf '%s\\n' "$PASSWORD" | clawbot auth hash-password

  gateways:
    - type: websocket          # give the WebSocket gateway the same auth block,
      port: 8080               # so it accepts the tokens the login signs
      auth: &auth
        type: jwt
        secret: \${CLAWBOT_JWT_SECRET}
        login_ttl: 8h
        users:
          - username: alice
            password_hash: "scrypt$32768$8$1$…$…"
            roles: [user]
          - username: ops
            password_hash: "scrypt$32768$8$1$…$…"
            roles: [user]
            scopes: [admin]
    - type: http
      port: 8080
      auth: *auth

The web chat then shows a login form (POST /auth/login). See docs/security.md "Password login".
`;

export function registerAuthCommand(program: Command): void {
  const auth = program.command("auth").description("Password login for the web chat (auth.users).");
  auth
    .command("hash-password")
    .description(`Print an scrypt hash of a password for auth.users[].password_hash (at least ${minPasswordLength} characters).`)
    .addHelpText("after", example)
    .action(async () => {
      const { hashPassword } = await import("../security/password-hash.js");
      const password = process.stdin.isTTY ? await promptTwice() : await firstLine(process.stdin);
      const problem = passwordProblem(password);
      if (problem) {
        process.stderr.write(`error: ${problem}\n`);
        process.exitCode = usageError;
        return;
      }
      process.stdout.write(`${await hashPassword(password as string)}\n`);
    });
}

/** Why a password is refused, or undefined. undefined input means none was given (stdin empty, or typed differently twice). */
export function passwordProblem(password: string | undefined): string | undefined {
  if (password === undefined || password.length === 0) return "no password given";
  if ([...password].length < minPasswordLength) return `the password is shorter than ${minPasswordLength} characters`;
  return undefined;
}

/** The first line of a piped stdin (without its line ending), or undefined when it is empty. */
export function firstLine(input: NodeJS.ReadableStream): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input, terminal: false, crlfDelay: Infinity });
    let line: string | undefined;
    lines.once("line", (text) => {
      line = text;
      lines.close();
    });
    lines.once("close", () => {
      // The rest of the input is not read: a password file with more lines gives its first.
      input.pause();
      resolve(line);
    });
    input.once("error", reject);
  });
}

/** Asks on the terminal twice, echoing nothing; undefined when the two differ (the error says so). */
async function promptTwice(): Promise<string | undefined> {
  const first = await promptHidden("Password: ");
  if (passwordProblem(first)) return first;
  const second = await promptHidden("Repeat it: ");
  if (first !== second) {
    process.stderr.write("error: the two passwords differ\n");
    process.exit(usageError);
  }
  return first;
}

function promptHidden(prompt: string): Promise<string | undefined> {
  // readline edits the line in raw mode and echoes to its output: an output that swallows everything echoes nothing.
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
  const lines = readline.createInterface({ input: process.stdin, output: silent, terminal: true });
  // Asked only once the terminal no longer echoes: a fast typist's (or script's) first keys are not shown either.
  process.stderr.write(prompt);
  return new Promise((resolve) => {
    let answer: string | undefined;
    lines.once("line", (text) => {
      answer = text;
      lines.close();
    });
    // Ctrl-C: stop without printing anything on stdout.
    lines.once("SIGINT", () => {
      process.stderr.write("\n");
      process.exit(130);
    });
    lines.once("close", () => {
      process.stderr.write("\n");
      resolve(answer);
    });
  });
}
