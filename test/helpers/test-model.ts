// Finds the tiny real GGUF used by tests (stories260K), downloading and verifying it once if no local copy exists.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { pullModel } from "../../src/models/model-downloader.js";

export const testModelFileName = "stories260K.gguf";
export const testModelSha256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
export const testModelSize = 1_185_376;
export const testModelUrl = "https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf";

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

let pending: Promise<string> | undefined;

/**
 * The test model's path: env CLAWBOT_TEST_MODEL if that file exists, else `<repo>/../shared/models/stories260K.gguf`,
 * else a copy downloaded once into `<repo>/.clawbot-test/models/` (SHA-256 verified).
 */
export function testModelPath(): Promise<string> {
  pending ??= locateTestModel();
  return pending;
}

async function locateTestModel(): Promise<string> {
  const configured = process.env.CLAWBOT_TEST_MODEL;
  if (configured && fs.existsSync(configured)) return path.resolve(configured);
  const shared = path.resolve(repositoryRoot, "..", "shared", "models", testModelFileName);
  if (fs.existsSync(shared)) return shared;
  const cacheDir = path.join(repositoryRoot, ".clawbot-test", "models");
  const result = await pullModel(testModelUrl, { cacheDir, sha256: testModelSha256 });
  if (result.downloaded) {
    process.stderr.write(`Downloaded the test model from ${testModelUrl} to ${result.path} (SHA-256 ${result.sha256} verified)\n`);
  }
  return result.path;
}
