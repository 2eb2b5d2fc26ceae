// A port's TLS config as node server options: certificate, key and CA files checked at start (readable, in date, matching).
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import fs from "node:fs";
import type { TlsOptions } from "node:tls";
import type { ListenerTlsConfig } from "../config/schema.js";
import { resolveFromConfig } from "../config/load.js";

/** The options for https.createServer, and the server certificate's expiry for the start log. */
export interface LoadedTls {
  options: TlsOptions;
  subject: string;
  validTo: Date;
}

/** Reads and checks the files of a `tls` block; throws an Error naming the gateway, the key and the file when one cannot serve. */
export function loadTlsOptions(tls: ListenerTlsConfig, baseDir: string, where: string): LoadedTls {
  const certFile = resolveFromConfig(baseDir, tls.cert);
  const keyFile = resolveFromConfig(baseDir, tls.key);
  const certPem = readFile(certFile, `${where}: tls.cert`);
  const keyPem = readFile(keyFile, `${where}: tls.key`);
  const [leaf] = certificates(certPem, `${where}: tls.cert ${certFile}`);
  const leafCertificate = leaf as X509Certificate;
  const now = Date.now();
  const validFrom = new Date(leafCertificate.validFrom);
  const validTo = new Date(leafCertificate.validTo);
  if (validTo.getTime() < now) throw new Error(`${where}: tls.cert ${certFile} expired on ${validTo.toISOString()}; renew the certificate`);
  if (validFrom.getTime() > now) throw new Error(`${where}: tls.cert ${certFile} is not valid before ${validFrom.toISOString()}; check the clock or the certificate`);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: keyPem, ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}) });
  } catch (error) {
    const encrypted = /ENCRYPTED/.test(keyPem) && tls.passphrase === undefined;
    throw new Error(`${where}: tls.key ${keyFile} is not a readable PEM private key${encrypted ? " (it is encrypted: give tls.passphrase)" : ` (${(error as Error).message})`}`);
  }
  if (!leafCertificate.checkPrivateKey(key)) throw new Error(`${where}: tls.key ${keyFile} does not match the certificate in tls.cert ${certFile}`);
  let ca: string | undefined;
  if (tls.ca !== undefined) {
    const caFile = resolveFromConfig(baseDir, tls.ca);
    ca = readFile(caFile, `${where}: tls.ca`);
    certificates(ca, `${where}: tls.ca ${caFile}`);
  }
  const options: TlsOptions = {
    cert: certPem,
    key: keyPem,
    ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
    ...(ca !== undefined ? { ca } : {}),
    minVersion: tls.min_version,
    requestCert: tls.client_certificates !== "none",
    rejectUnauthorized: tls.client_certificates === "require",
  };
  return { options, subject: leafCertificate.subject.replace(/\n/g, ", "), validTo };
}

/** Whether two gateways' `tls` blocks are the same (one port has one TLS setup). */
export function sameTls(first: ListenerTlsConfig | undefined, second: ListenerTlsConfig | undefined): boolean {
  return JSON.stringify(first ?? null) === JSON.stringify(second ?? null);
}

function readFile(file: string, label: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "file not found" : code === "EACCES" ? "permission denied" : (error as Error).message;
    throw new Error(`${label}: cannot read ${file} (${reason})`);
  }
}

/** The PEM certificates in a file, in order; throws when there is none or one does not parse. */
function certificates(pem: string, label: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${label} holds no PEM certificate`);
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new Error(`${label}: certificate ${index + 1} does not parse (${(error as Error).message})`);
    }
  });
}
