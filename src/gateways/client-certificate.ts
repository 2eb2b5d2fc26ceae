// mTLS: a verified client certificate on a TLS socket as a Principal (subject from CN or a SAN, roles from tls.client_roles).
import { TLSSocket, type PeerCertificate } from "node:tls";
import type { ListenerTlsConfig } from "../config/schema.js";
import type { Principal } from "../core/types.js";

/**
 * The principal of the socket's client certificate, or undefined when the port asks for none, the client sent none,
 * it did not verify against tls.ca, or it has no subject of the configured kind.
 */
export function certificatePrincipal(socket: unknown, tls: ListenerTlsConfig | undefined): Principal | undefined {
  if (!tls || tls.client_certificates === "none" || !(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  const certificate = socket.getPeerCertificate();
  if (!certificate || Object.keys(certificate).length === 0) return undefined;
  const subject = subjectOf(certificate, tls.subject_from);
  if (!subject) return undefined;
  const expires = Date.parse(certificate.valid_to);
  return {
    subject,
    roles: [...(tls.client_roles[subject] ?? [])],
    scopes: [],
    claims: {
      // The certificate's end: a WebSocket connection it authenticated closes then, as one a token authenticated does at exp.
      ...(Number.isFinite(expires) ? { exp: Math.floor(expires / 1000) } : {}),
      client_certificate: { fingerprint256: certificate.fingerprint256, serial: certificate.serialNumber, issuer: first(certificate.issuer?.CN) },
    },
  };
}

function subjectOf(certificate: PeerCertificate, from: ListenerTlsConfig["subject_from"]): string | undefined {
  if (from === "cn") return first(certificate.subject?.CN);
  const prefix = { san_email: "email:", san_dns: "DNS:", san_uri: "URI:" }[from];
  const names = (certificate.subjectaltname ?? "").split(/,\s*/);
  const name = names.find((entry) => entry.startsWith(prefix));
  return name ? name.slice(prefix.length) || undefined : undefined;
}

function first(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return text && text.length > 0 ? text : undefined;
}
