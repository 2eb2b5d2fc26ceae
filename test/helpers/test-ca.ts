// A throwaway PKI made with the openssl CLI: two CAs, a server certificate for 127.0.0.1, client certificates, an expired one.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface TestPki {
  directory: string;
  /** File names inside `directory` (configs name them relative to it). */
  files: { ca: string; serverCert: string; serverKey: string; expiredCert: string; expiredKey: string; otherCa: string };
  /** PEM contents for clients. */
  ca: string;
  client(name: "alice" | "mallory"): { cert: string; key: string };
  remove(): void;
}

function openssl(directory: string, ...args: string[]): void {
  execFileSync("openssl", args, { cwd: directory, stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA key and self-signed certificate. */
function makeCa(directory: string, name: string): void {
  openssl(directory, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.pem`, "-subj", `/CN=${name}`, "-days", "2");
}

/** A key and a certificate signed by `ca`, with the given subject and extensions, valid `days` (or between fixed dates through `openssl ca`). */
function makeLeaf(directory: string, ca: string, name: string, subject: string, extensions: string): void {
  openssl(directory, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject);
  fs.writeFileSync(path.join(directory, `${name}.ext`), extensions);
  openssl(directory, "x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`);
}

/** A certificate whose validity ended in 2021 (openssl 3.0's x509 cannot back-date; `openssl ca` can). */
function makeExpired(directory: string, ca: string, name: string): void {
  openssl(directory, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", "/CN=127.0.0.1");
  fs.writeFileSync(path.join(directory, "index.txt"), "");
  fs.writeFileSync(path.join(directory, "ca.cnf"), "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial.txt\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n");
  fs.writeFileSync(path.join(directory, "serial.txt"), "1000\n");
  openssl(directory, "ca", "-batch", "-config", "ca.cnf", "-cert", `${ca}.pem`, "-keyfile", `${ca}.key`, "-in", `${name}.csr`, "-out", `${name}.pem`, "-startdate", "20200101000000Z", "-enddate", "20210101000000Z", "-notext");
}

export function makeTestPki(): TestPki {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-pki-"));
  makeCa(directory, "ca");
  makeCa(directory, "other-ca");
  makeLeaf(directory, "ca", "server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  makeLeaf(directory, "ca", "alice", "/CN=alice", "subjectAltName=email:alice@clinic.example\nextendedKeyUsage=clientAuth\n");
  makeLeaf(directory, "other-ca", "mallory", "/CN=alice", "extendedKeyUsage=clientAuth\n");
  makeExpired(directory, "ca", "expired");
  const read = (name: string) => fs.readFileSync(path.join(directory, name), "utf8");
  return {
    directory,
    files: { ca: "ca.pem", serverCert: "server.pem", serverKey: "server.key", expiredCert: "expired.pem", expiredKey: "expired.key", otherCa: "other-ca.pem" },
    ca: read("ca.pem"),
    client: (name) => ({ cert: read(`${name}.pem`), key: read(`${name}.key`) }),
    remove: () => fs.rmSync(directory, { recursive: true, force: true }),
  };
}
