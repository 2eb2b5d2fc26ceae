// The chat-template path with the real model: copies of stories260K given a ChatML and a custom Jinja template, driven through the engine.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  ChatMLChatWrapper,
  getLlama,
  JinjaTemplateChatWrapper,
  type Llama,
  LlamaCompletion,
  LlamaLogLevel,
  type LlamaModel,
  LlamaText,
  resolveChatWrapper,
} from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatMessage } from "../src/core/types.js";
import type { EnginePart, LanguageModel } from "../src/engine/language-model.js";
import { createLlamaEngine } from "../src/engine/llama/llama-engine.js";
import { PromptRenderer } from "../src/engine/llama/prompt-renderer.js";
import { silentLogger } from "../src/logging/logger.js";
import { copyGgufWithMetadata } from "./helpers/gguf-file.js";
import { testModelPath } from "./helpers/test-model.js";

const chatMlTemplate =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
/** A template node-llama-cpp knows no specialised wrapper for; its turns end with a bare newline. */
const customTemplate =
  "{% for message in messages %}{{'### ' + message['role'] + ':\n' + message['content'] + '\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '### assistant:\n' }}{% endif %}";

const messages: ChatMessage[] = [
  { role: "system", content: "S" },
  { role: "user", content: "Hello" },
];

function startEngine(modelPath: string): Promise<LanguageModel> {
  return createLlamaEngine({ modelPath, parallel: 2, threads: 1, maxQueue: 4, gpu: false, logger: silentLogger });
}

async function collect(engine: LanguageModel, maxTokens: number): Promise<{ deltas: string[]; finish: Extract<EnginePart, { type: "finish" }> }> {
  const deltas: string[] = [];
  for await (const part of engine.stream({ messages, params: { maxTokens, temperature: 0 } })) {
    if (part.type === "text-delta") deltas.push(part.text);
    else if (part.type === "finish") return { deltas, finish: part };
  }
  throw new Error("The stream ended without a finish part");
}

describe("chat templates", () => {
  let directory: string;
  let plainPath: string;
  let chatMlPath: string;
  let customPath: string;
  let plain: LanguageModel;
  let chatMl: LanguageModel;
  let custom: LanguageModel;

  beforeAll(async () => {
    plainPath = await testModelPath();
    directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-chat-template-"));
    chatMlPath = path.join(directory, "stories260K-chatml.gguf");
    customPath = path.join(directory, "stories260K-custom.gguf");
    copyGgufWithMetadata(plainPath, chatMlPath, { "tokenizer.chat_template": chatMlTemplate });
    copyGgufWithMetadata(plainPath, customPath, { "tokenizer.chat_template": customTemplate });
    [plain, chatMl, custom] = await Promise.all([startEngine(plainPath), startEngine(chatMlPath), startEngine(customPath)]);
  });
  afterAll(async () => {
    await Promise.all([plain?.close(), chatMl?.close(), custom?.close()]);
    if (directory) fs.rmSync(directory, { recursive: true, force: true });
  });

  it("reports whether the model's own template renders prompts", () => {
    expect(chatMl.info.chatTemplate).toBe(true);
    expect(custom.info.chatTemplate).toBe(true);
    expect(plain.info.chatTemplate).toBe(false);
  });

  it("counts the template's markers in the prompt", () => {
    const plainCount = plain.countPromptTokens(messages);
    const chatMlCount = chatMl.countPromptTokens(messages);
    // The 512-token vocabulary spells "<|im_start|>" out in single characters, so the markers cost many tokens.
    expect(chatMlCount).toBeGreaterThan(plainCount + 30);
    expect(custom.countPromptTokens(messages)).toBeGreaterThan(plainCount);
  });

  it("streams text deltas that add up to the finish text", async () => {
    const { deltas, finish } = await collect(chatMl, 24);
    expect(deltas.length).toBeGreaterThan(5);
    expect(finish.text).toBe(deltas.join(""));
    expect(finish.finishReason).toBe("length");
    expect(finish.usage).toMatchObject({ promptTokens: chatMl.countPromptTokens(messages), completionTokens: 24 });
  });

  it("stops at the end-of-turn marker the template implies", async () => {
    // The custom template ends turns with "\n", so node-llama-cpp makes "\n" a stop trigger; this model emits one soon.
    const { deltas, finish } = await collect(custom, 200);
    expect(finish.finishReason).toBe("stop");
    expect(finish.text.length).toBeGreaterThan(0);
    expect(finish.text).not.toContain("\n");
    expect(finish.text).toBe(deltas.join(""));
    expect(finish.usage.completionTokens).toBeLessThan(200);
  });

  describe("the prompt renderer and node-llama-cpp's wrapper choice", () => {
    let llama: Llama;
    let chatMlModel: LlamaModel;
    let customModel: LlamaModel;
    let chatMlRenderer: PromptRenderer;
    let customRenderer: PromptRenderer;

    beforeAll(async () => {
      llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
      chatMlModel = await llama.loadModel({ modelPath: chatMlPath });
      customModel = await llama.loadModel({ modelPath: customPath });
      chatMlRenderer = new PromptRenderer(chatMlModel);
      customRenderer = new PromptRenderer(customModel);
    });
    afterAll(async () => llama?.dispose());

    it("resolves ChatML to ChatMLChatWrapper and an unknown template to JinjaTemplateChatWrapper", () => {
      expect(resolveChatWrapper(chatMlModel)).toBeInstanceOf(ChatMLChatWrapper);
      expect(resolveChatWrapper(customModel)).toBeInstanceOf(JinjaTemplateChatWrapper);
    });

    it("renders every turn with its markers, one generation prompt and exactly one BOS", () => {
      const prompt = chatMlRenderer.render(messages);
      expect(prompt.tokens[0]).toBe(chatMlModel.tokens.bos);
      expect(prompt.tokens.filter((token) => token === chatMlModel.tokens.bos)).toHaveLength(1);
      expect(chatMlRenderer.count(messages)).toBe(prompt.tokens.length);
      // Ignore the "▁" pieces node-llama-cpp's piecewise tokenizing puts before template text (they detokenize as spaces).
      const text = chatMlModel.detokenize(prompt.tokens.slice(1), true).replaceAll(" <|im_", "<|im_").trimStart();
      expect(text).toBe("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
      const customText = customModel.detokenize(customRenderer.render(messages).tokens.slice(1), true).replaceAll(" \n", "\n").trimStart();
      expect(customText).toBe("### system:\nS\n### user:\nHello\n### assistant:\n");
    });

    it("hands over the template's end-of-turn markers as stop strings (this vocabulary has no control token for them)", () => {
      expect(chatMlRenderer.render(messages).stopStrings.map((stop) => stop.trim())).toContain("<|im_end|>");
      expect(customRenderer.render(messages).stopStrings).toContain("\n");
    });
  });
});
