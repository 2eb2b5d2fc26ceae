// Tests for parsing model specs: local paths, URLs and Hugging Face URIs.
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ModelSpecError, parseModelSpec } from "./model-source.js";

const environment = { HOME: "/home/tester" };

describe("parseModelSpec", () => {
  it("treats plain strings as local paths, resolved and with ~ expanded", () => {
    expect(parseModelSpec("/models/a.gguf", environment)).toEqual({ kind: "path", path: "/models/a.gguf" });
    expect(parseModelSpec("models/a.gguf", environment)).toEqual({ kind: "path", path: path.resolve("models/a.gguf") });
    expect(parseModelSpec("~/models/a.gguf", environment)).toEqual({ kind: "path", path: "/home/tester/models/a.gguf" });
    expect(parseModelSpec("file:///srv/m%20x.gguf", environment)).toEqual({ kind: "path", path: "/srv/m x.gguf" });
    expect(parseModelSpec("~/a.gguf", {})).toEqual({ kind: "path", path: path.join(os.homedir(), "a.gguf") });
  });

  it("takes http(s) URLs as they are, with the file name from the last segment", () => {
    expect(parseModelSpec("https://example.com/files/model.q4.gguf?download=true", environment)).toEqual({
      kind: "url",
      url: "https://example.com/files/model.q4.gguf?download=true",
      fileName: "model.q4.gguf",
    });
    expect(parseModelSpec("http://127.0.0.1:8080/a%20b.gguf", environment)).toMatchObject({ kind: "url", fileName: "a b.gguf" });
  });

  it("rewrites a Hugging Face /blob/ page link to its /resolve/ download link", () => {
    expect(parseModelSpec("https://huggingface.co/Qwen/Repo-GGUF/blob/main/q.gguf", environment)).toEqual({
      kind: "url",
      url: "https://huggingface.co/Qwen/Repo-GGUF/resolve/main/q.gguf",
      fileName: "q.gguf",
    });
  });

  it("resolves hf: URIs against https://huggingface.co by default", () => {
    expect(parseModelSpec("hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf", environment)).toEqual({
      kind: "hf",
      url: "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q4_k_m.gguf",
      fileName: "qwen2.5-0.5b-instruct-q4_k_m.gguf",
    });
  });

  it("keeps nested paths and honours @revision", () => {
    expect(parseModelSpec("hf:ggml-org/models/tinyllamas/stories260K.gguf@abc123", environment)).toEqual({
      kind: "hf",
      url: "https://huggingface.co/ggml-org/models/resolve/abc123/tinyllamas/stories260K.gguf",
      fileName: "stories260K.gguf",
    });
    expect(parseModelSpec("hf://owner/repo/file.gguf@refs/pr/1", environment)).toMatchObject({
      url: "https://huggingface.co/owner/repo/resolve/refs%2Fpr%2F1/file.gguf",
    });
  });

  it("accepts hf.co/ and huggingface.co/ forms, including pasted page paths", () => {
    const expected = "https://huggingface.co/owner/repo/resolve/main/dir/file.gguf";
    expect(parseModelSpec("hf.co/owner/repo/dir/file.gguf", environment)).toMatchObject({ kind: "hf", url: expected });
    expect(parseModelSpec("huggingface.co/owner/repo/dir/file.gguf", environment)).toMatchObject({ kind: "hf", url: expected });
    expect(parseModelSpec("hf.co/owner/repo/blob/v2/file.gguf", environment)).toMatchObject({
      url: "https://huggingface.co/owner/repo/resolve/v2/file.gguf",
    });
  });

  it("uses CLAWBOT_HF_ENDPOINT from the environment passed in", () => {
    const source = parseModelSpec("hf:owner/repo/file.gguf", { CLAWBOT_HF_ENDPOINT: "http://127.0.0.1:9999/mirror/" });
    expect(source).toEqual({ kind: "hf", url: "http://127.0.0.1:9999/mirror/owner/repo/resolve/main/file.gguf", fileName: "file.gguf" });
  });

  it("rejects malformed specs with a clear error", () => {
    expect(() => parseModelSpec("", environment)).toThrow(ModelSpecError);
    expect(() => parseModelSpec("hf:owner/repo", environment)).toThrow(/expected hf:<owner>\/<repo>/);
    expect(() => parseModelSpec("hf:owner/repo/file.gguf@", environment)).toThrow(/empty revision/);
    expect(() => parseModelSpec("hf:owner/repo/../x.gguf", environment)).toThrow(/not allowed/);
    expect(() => parseModelSpec("https://example.com/", environment)).toThrow(/file name/);
  });
});
