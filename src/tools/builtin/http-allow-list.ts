// The `http_request` tool's allow list: which URLs it may call with which methods, compared as parsed URLs.

/** An HTTP method the tool can send. */
export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD";

/** One allowed target as configured (`tools.http_request.allow`). */
export interface HttpAllowEntry {
  prefix: string;
  methods: readonly HttpMethod[];
}

/** A URL the tool may call, or why it may not. */
export type AllowDecision = { allowed: true; url: URL } | { allowed: false; reason: string };

/** An allowed prefix, parsed once: scheme, host, port and a path that matches whole segments. */
interface ParsedPrefix {
  protocol: string;
  hostname: string;
  port: string;
  /** The prefix's path: a URL matches when its path equals it or continues it after a "/". */
  path: string;
  methods: ReadonlySet<HttpMethod>;
}

/** Characters of a URL, at most. */
const maxUrlChars = 8192;

/** Path bytes some servers decode into a separator (`%2f` `/`, `%5c` `\`): a `..` behind them could climb out of a prefix. */
const encodedSeparator = /%2f|%5c/i;

/**
 * The allow list: a URL is allowed when its scheme, host and port equal an entry's and its path is under the entry's
 * path on segment boundaries (`/admin/` allows `/admin/x`, not `/adminx` nor `/admin`; `/admin` also `/admin`), after the URL parser resolved `.` and
 * `..` (also percent-encoded). URLs with user info (`http://allowed@elsewhere/`) or an encoded slash or backslash in
 * the path are refused, as are schemes other than http and https.
 */
export class HttpAllowList {
  private readonly prefixes: ParsedPrefix[];

  constructor(entries: readonly HttpAllowEntry[]) {
    this.prefixes = entries.map((entry) => parsePrefix(entry));
  }

  /** Every method some entry allows (the tool's `method` enum), in a fixed order. */
  methods(): HttpMethod[] {
    const all: HttpMethod[] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];
    return all.filter((method) => this.prefixes.some((prefix) => prefix.methods.has(method)));
  }

  /** Whether `method` may be sent to `target`; the parsed URL when it may. */
  check(target: string, method: HttpMethod): AllowDecision {
    if (target.length > maxUrlChars) return { allowed: false, reason: `the URL is longer than ${maxUrlChars} characters` };
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return { allowed: false, reason: `"${target.slice(0, 200)}" is not an absolute URL` };
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") return { allowed: false, reason: `the scheme ${url.protocol} is not allowed (only http and https)` };
    if (url.username !== "" || url.password !== "") return { allowed: false, reason: "URLs with a user name or password are not allowed" };
    if (encodedSeparator.test(url.pathname)) return { allowed: false, reason: "an encoded slash or backslash (%2F, %5C) in the path is not allowed" };
    const matching = this.prefixes.filter((prefix) => matches(prefix, url));
    if (matching.length === 0) return { allowed: false, reason: `${url.origin}${url.pathname} is not under an allowed URL prefix` };
    if (!matching.some((prefix) => prefix.methods.has(method))) {
      const allowed = [...new Set(matching.flatMap((prefix) => [...prefix.methods]))].join(", ");
      return { allowed: false, reason: `the method ${method} is not allowed for ${url.origin}${url.pathname} (allowed: ${allowed})` };
    }
    url.hash = "";
    return { allowed: true, url };
  }
}

function parsePrefix(entry: HttpAllowEntry): ParsedPrefix {
  const url = new URL(entry.prefix);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`tools.http_request.allow: "${entry.prefix}" is not an http or https URL`);
  if (url.username !== "" || url.password !== "") throw new Error(`tools.http_request.allow: "${entry.prefix}" must not hold a user name or password`);
  return { protocol: url.protocol, hostname: url.hostname, port: url.port, path: url.pathname, methods: new Set(entry.methods) };
}

function matches(prefix: ParsedPrefix, url: URL): boolean {
  if (url.protocol !== prefix.protocol || url.hostname !== prefix.hostname || url.port !== prefix.port) return false;
  // `/admin/` allows what is below it; `/admin` also `/admin` itself; neither `/adminx`.
  if (prefix.path.endsWith("/")) return url.pathname.startsWith(prefix.path);
  return url.pathname === prefix.path || url.pathname.startsWith(`${prefix.path}/`);
}
