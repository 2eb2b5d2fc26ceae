// `clawbot doctor`'s secret checks: JWT secrets and the watermark key strong, no open unauthenticated listener, TLS files usable and not expired.
import { X509Certificate, createPrivateKey } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { LoadedConfig } from "../config/load.js";
import type { ClawbotConfig, GatewayConfig } from "../config/schema.js";
import { checkExposure } from "../daemon/exposure-check.js";
import { resolveGatewayConfig } from "../gateways/registry.js";
import type { Logger } from "../logging/logger.js";
import { weakSecretReason } from "../security/jwt-verifier.js";
import { fail, ok, warn, type DoctorCheck } from "./doctor-check.js";

const placeholders = new Set(["secret", "change-me", "changeme", "change_me", "your-secret-key", "password", "passw0rd", "test", "example", "default", "admin", "clawbot"]);
const placeholderParts = ["change-me", "changeme", "change_me", "your-secret", "replace-me", "replaceme", "placeholder"];
const dayMs = 86_400_000;

/** Why a secret is weak (under 32 bytes, a placeholder, a repetition), or undefined. */
export function secretWeakness(secret: string, minimumBytes = 32): string | undefined {
  const lower = secret.toLowerCase();
  if (placeholders.has(lower) || placeholderParts.some((part) => lower.includes(part))) return "is an obvious placeholder";
  if (/^(.{1,4})\1+$/s.test(secret)) return "is one short pattern repeated";
  if (new Set(secret).size < 8) return `has only ${new Set(secret).size} different characters`;
  if (minimumBytes === 32) return weakSecretReason(secret);
  return Buffer.byteLength(secret, "utf8") < minimumBytes ? `is shorter than ${minimumBytes} bytes` : undefined;
}

export function secretChecks(loaded: LoadedConfig): DoctorCheck[] {
  const { config, baseDir } = loaded;
  const gateways = resolvedGateways(config);
  const checks: DoctorCheck[] = [];
  gateways.forEach(({ gateway, where }) => {
    const auth = (gateway as { auth?: { type?: string; secret?: unknown; public_key?: unknown; jwks?: unknown } }).auth;
    if (auth?.type !== "jwt") return;
    if (typeof auth.secret === "string") {
      const weakness = secretWeakness(auth.secret);
      checks.push(
        weakness
          ? fail(`secret ${where}`, `auth.secret ${weakness}: anyone who guesses it can mint tokens`, "set a random secret of at least 32 bytes (openssl rand -base64 32), kept out of the file: secret: ${CLAWBOT_JWT_SECRET}")
          : ok(`secret ${where}`, `auth.secret: ${Buffer.byteLength(auth.secret, "utf8")} bytes`),
      );
    }
    for (const key of ["public_key", "jwks"] as const) {
      if (typeof auth[key] === "string") checks.push(readableCheck(`${key} ${where}`, path.resolve(baseDir, auth[key] as string), `auth.${key}`));
    }
  });
  checks.push(...exposureChecks(config, gateways));
  if (config.watermark.key !== undefined) {
    const weakness = secretWeakness(config.watermark.key);
    checks.push(
      weakness
        ? warn("watermark key", `watermark.key ${weakness}: anyone who guesses it can detect and forge the watermark`, "set a random key of at least 32 bytes (openssl rand -base64 32), from the environment: key: ${CLAWBOT_WATERMARK_KEY}")
        : ok("watermark key", `${Buffer.byteLength(config.watermark.key, "utf8")} bytes`),
    );
  }
  checks.push(...tlsChecks(config, gateways, baseDir));
  return checks;
}

function resolvedGateways(config: ClawbotConfig): { gateway: GatewayConfig; where: string }[] {
  return config.gateways.map((entry, index) => {
    const gateway = resolveGatewayConfig(entry, `gateways[${index}]`);
    const kind = gateway.type === "custom" ? gateway.protocol : gateway.type;
    return { gateway, where: `gateways[${index}] (${kind})` };
  });
}

/** The start's own exposure rule (exposure-check.ts), one gateway at a time so every problem is named. */
function exposureChecks(config: ClawbotConfig, gateways: { gateway: GatewayConfig; where: string }[]): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  gateways.forEach(({ gateway, where }) => {
    const warnings: string[] = [];
    const logger = { warn: (message: string) => void warnings.push(message) } as unknown as Logger;
    try {
      // insecureDev: weak secrets only warn here (they have their own check above); exposure still throws.
      checkExposure({ ...config, gateways: [gateway] }, { insecureDev: true, logger });
    } catch (error) {
      checks.push(fail(`exposure ${where}`, (error as Error).message.replace(/^gateways\[0\] \([^)]*\): /, ""), "configure auth (type: jwt) on that gateway, or bind it to 127.0.0.1 (host: 127.0.0.1) behind a proxy that authenticates"));
      return;
    }
    for (const message of warnings.filter((text) => !text.startsWith("INSECURE:"))) {
      const fix = gateway.type === "mqtt" ? "configure auth (type: jwt) on that gateway, or restrict the broker's request topics with ACLs (docs/gateways.md)" : "configure tls on that gateway (cert and key), or terminate TLS in a proxy in front of it";
      checks.push(warn(`exposure ${where}`, message.replace(/^gateways\[0\] \([^)]*\): /, ""), fix));
    }
  });
  if (checks.length === 0) checks.push(ok("exposure", "no gateway accepts unauthenticated clients beyond this machine"));
  return checks;
}

interface TlsFiles {
  where: string;
  cert?: string;
  key?: string;
  ca?: string;
  passphrase?: string;
}

function tlsChecks(config: ClawbotConfig, gateways: { gateway: GatewayConfig; where: string }[], baseDir: string): DoctorCheck[] {
  const sets: TlsFiles[] = [];
  for (const { gateway, where } of gateways) {
    if ((gateway.type === "websocket" || gateway.type === "http") && gateway.tls) sets.push({ where, ...gateway.tls });
    if (gateway.type === "mqtt" && (gateway.ca || gateway.cert || gateway.key)) sets.push({ where, cert: gateway.cert, key: gateway.key, ca: gateway.ca });
  }
  config.audit.sinks.forEach((sink, index) => {
    if (sink.type === "syslog" && (sink.ca || sink.cert || sink.key)) sets.push({ where: `audit.sinks[${index}]`, cert: sink.cert, key: sink.key, ca: sink.ca });
    if (sink.type === "http" && sink.ca) sets.push({ where: `audit.sinks[${index}]`, ca: sink.ca });
  });
  const clusterTls = config.cluster?.tls;
  if (clusterTls) sets.push({ where: "cluster.tls", cert: clusterTls.cert_file, key: clusterTls.key_file, ca: clusterTls.ca_file });
  return sets.flatMap((files) => tlsFileChecks(files, baseDir));
}

function tlsFileChecks(files: TlsFiles, baseDir: string): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  const resolve = (file: string) => path.resolve(baseDir, file);
  let certificate: X509Certificate | undefined;
  if (files.cert) {
    const file = resolve(files.cert);
    const check = certificateCheck(`tls cert ${files.where}`, file);
    checks.push(check.check);
    certificate = check.certificate;
  }
  if (files.key) {
    const file = resolve(files.key);
    const name = `tls key ${files.where}`;
    try {
      const key = createPrivateKey({ key: fs.readFileSync(file), ...(files.passphrase ? { passphrase: files.passphrase } : {}) });
      if (certificate && !certificate.checkPrivateKey(key)) checks.push(fail(name, `${file} is not the key of the certificate ${resolve(files.cert as string)}`, "give the private key that belongs to that certificate"));
      else checks.push(ok(name, `${file} is a private key${certificate ? " matching the certificate" : ""}`));
    } catch (error) {
      checks.push(fail(name, `cannot use ${file}: ${(error as Error).message}`, "give a readable PEM private key (and its passphrase when it is encrypted)"));
    }
  }
  if (files.ca) checks.push(certificateCheck(`tls ca ${files.where}`, resolve(files.ca)).check);
  return checks;
}

/** Readable, a PEM certificate, and not expired (⚠ within 30 days of it). */
function certificateCheck(name: string, file: string): { check: DoctorCheck; certificate?: X509Certificate } {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(fs.readFileSync(file));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return { check: fail(name, `cannot use ${file} (${reason})`, "give a readable PEM certificate file (paths are relative to the config file)") };
  }
  const expires = Date.parse(certificate.validTo);
  const now = Date.now();
  if (expires <= now) return { check: fail(name, `${file} expired on ${certificate.validTo}`, "renew the certificate and replace the file, then restart the node"), certificate };
  if (Date.parse(certificate.validFrom) > now) return { check: fail(name, `${file} is not valid before ${certificate.validFrom}`, "check this machine's clock, or use a certificate valid now"), certificate };
  if (expires - now < 30 * dayMs) return { check: warn(name, `${file} expires on ${certificate.validTo}`, "renew the certificate before then and replace the file"), certificate };
  return { check: ok(name, `${file} valid until ${certificate.validTo}`), certificate };
}

function readableCheck(name: string, file: string, key: string): DoctorCheck {
  try {
    fs.accessSync(file, fs.constants.R_OK);
    return ok(name, `${file} is readable`);
  } catch (error) {
    return fail(name, `cannot read ${file} (${(error as NodeJS.ErrnoException).code})`, `fix ${key} (relative to the config file) or the file's permissions`);
  }
}
