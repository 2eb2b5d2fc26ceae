// llama.cpp's error lines: read after a failure (they may arrive late), most specific reason first.
import { describe, expect, it } from "vitest";
import { LlamaErrorLog, withLlamaReason } from "./llama-error-log.js";

describe("LlamaErrorLog", () => {
  it("returns the lines logged after a mark, waiting for lines that arrive after the failure", async () => {
    const log = new LlamaErrorLog();
    log.push("an older failure");
    const mark = log.mark();
    setTimeout(() => {
      log.push("llama_model_load: error loading model: tensor 'blk.2.ffn_gate.weight' data is not within the file bounds, model is corrupted or incomplete");
      log.push("llama_model_load_from_file_impl: failed to load model");
    }, 30);
    const lines = await log.since(mark);
    expect(lines).toHaveLength(2);
    expect(withLlamaReason(new Error("Failed to load model"), lines)).toBe(
      "Failed to load model (llama.cpp: tensor 'blk.2.ffn_gate.weight' data is not within the file bounds, model is corrupted or incomplete)",
    );
  });

  it("keeps a generic line when it is all there is, and the message alone when nothing was logged", () => {
    expect(withLlamaReason(new Error("Failed to create context"), ["llama_init_from_model: failed to initialize the context"])).toBe(
      "Failed to create context (llama.cpp: failed to initialize the context)",
    );
    expect(withLlamaReason(new Error("Failed"), [])).toBe("Failed");
  });
});
