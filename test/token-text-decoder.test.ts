// Incremental detokenization with the real test model: token by token, the same text as decoding the whole answer at once.
import { getLlama, type Llama, type LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenTextDecoder } from "../src/engine/llama/token-text-decoder.js";
import { testModelPath } from "./helpers/test-model.js";

describe("TokenTextDecoder", () => {
  let llama: Llama;
  let model: LlamaModel;

  beforeAll(async () => {
    llama = await getLlama({ gpu: false, build: "never" });
    model = await llama.loadModel({ modelPath: await testModelPath() });
  });
  afterAll(async () => {
    await model?.dispose();
    await llama?.dispose();
  });

  it("streams exactly the text of the whole answer, multi-byte characters (byte tokens) included, past many context cuts", () => {
    const prompt = model.tokenize("Once upon a time", false);
    const answerText = " there was a cat named Tom. 猫は «très» happy 🐈‍⬛!\n  Lily said: \"Hi!\" ".repeat(6);
    const answer = model.tokenize(answerText, false);
    expect(answer.length).toBeGreaterThan(200);
    const decoder = new TokenTextDecoder(model, prompt);
    const deltas = answer.map((token) => decoder.push(token));
    // What the stream shows after the prompt is what the prompt and answer read as together, minus the prompt.
    const expected = model.detokenize([...prompt, ...answer], false).slice(model.detokenize(prompt, false).length);
    expect(deltas.join("")).toBe(expected);
    expect(deltas.some((delta) => delta === "")).toBe(true);
    expect(deltas.join("")).not.toContain("\uFFFD");
  });
});
