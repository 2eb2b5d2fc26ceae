// Whether a host name or address is reachable only from this machine (the exposure rule's test, shared by built-in and custom gateways).
import net from "node:net";

export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  if (bare === "localhost") return true;
  if (net.isIPv4(bare)) return bare.startsWith("127.");
  return bare === "::1";
}
