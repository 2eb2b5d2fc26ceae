// The SM2 link key files: hex and PEM (as OpenSSL writes them), a mismatched pair refused, a generated key kept 0600 and reused.
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { generateSm2KeyPair, sm2PublicKeyOf, sm2Sign, sm2Verify } from "./gm-crypto.js";
import { generatedPrivateKeyFile, loadSm2KeyPair, readPrivateKey, readPublicKey } from "./sm2-key-files.js";

const directory = () => fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-sm2-"));

describe("SM2 key files", () => {
  it("reads OpenSSL's PEM private (PKCS#8 and SEC1) and public keys of one pair", () => {
    const dir = directory();
    const pair = generateKeyPairSync("ec", { namedCurve: "SM2" });
    fs.writeFileSync(path.join(dir, "pkcs8.pem"), pair.privateKey.export({ format: "pem", type: "pkcs8" }));
    fs.writeFileSync(path.join(dir, "sec1.pem"), pair.privateKey.export({ format: "pem", type: "sec1" }));
    fs.writeFileSync(path.join(dir, "public.pem"), pair.publicKey.export({ format: "pem", type: "spki" }));
    const privateKey = readPrivateKey(path.join(dir, "pkcs8.pem"));
    expect(readPrivateKey(path.join(dir, "sec1.pem"))).toBe(privateKey);
    expect(readPublicKey(path.join(dir, "public.pem"))).toBe(sm2PublicKeyOf(privateKey));
    const loaded = loadSm2KeyPair({ privateKey: "pkcs8.pem", publicKey: "public.pem", baseDir: dir, dataDir: dir });
    expect(sm2Verify(Buffer.from("x"), sm2Sign(Buffer.from("x"), loaded.keys), loaded.keys.publicKey)).toBe(true);
  });

  it("reads hex files and refuses a public key of another pair", () => {
    const dir = directory();
    const keys = generateSm2KeyPair();
    fs.writeFileSync(path.join(dir, "key.hex"), `${keys.privateKey}\n`);
    fs.writeFileSync(path.join(dir, "other.hex"), generateSm2KeyPair().publicKey);
    expect(loadSm2KeyPair({ privateKey: "key.hex", baseDir: dir, dataDir: dir }).keys).toEqual(keys);
    expect(() => loadSm2KeyPair({ privateKey: "key.hex", publicKey: "other.hex", baseDir: dir, dataDir: dir })).toThrow(/not the public key/);
    fs.writeFileSync(path.join(dir, "bad.hex"), "not a key");
    expect(() => loadSm2KeyPair({ privateKey: "bad.hex", baseDir: dir, dataDir: dir })).toThrow(/no SM2 private key/);
  });

  it("generates a key once into the data directory (0600) and reuses it", () => {
    const dir = directory();
    const first = loadSm2KeyPair({ baseDir: dir, dataDir: path.join(dir, "data") });
    expect(first.generated).toBe(path.join(dir, "data", generatedPrivateKeyFile));
    expect(fs.statSync(first.generated as string).mode & 0o777).toBe(0o600);
    const second = loadSm2KeyPair({ baseDir: dir, dataDir: path.join(dir, "data") });
    expect(second.generated).toBeUndefined();
    expect(second.keys).toEqual(first.keys);
  });
});
