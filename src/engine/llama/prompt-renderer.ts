// Renders chat messages into prompt tokens: the model's own chat template when it has one, plain text otherwise.
import { type ChatHistoryItem, type ChatWrapper, type LlamaModel, type Token, resolveChatWrapper } from "node-llama-cpp";
import { ClawError } from "../../core/errors.js";
import type { ChatMessage, ToolDefinition } from "../../core/types.js";
import { renderPlainPrompt } from "../plain-prompt.js";
import { toTextMessages } from "../tool-prompt.js";

export interface RenderedPrompt {
  /** The prompt as the context holds it, beginning-of-sequence token included when the model wants one. */
  tokens: Token[];
  /** Text that ends the answer (the template's end-of-turn markers that are not single control tokens). */
  stopStrings: string[];
  /** Single control tokens that end the answer (e.g. an end-of-turn token). */
  stopTokens: Set<Token>;
}

export class PromptRenderer {
  private readonly chatWrapper: ChatWrapper | undefined;

  constructor(private readonly model: LlamaModel) {
    const template = model.fileInfo.metadata.tokenizer?.chat_template;
    this.chatWrapper = template ? resolveChatWrapper(model) : undefined;
  }

  get usesChatTemplate(): boolean {
    return this.chatWrapper !== undefined;
  }

  /** The messages (with the tools' catalog at the start when given), as the model's template or plain text renders them. */
  render(conversation: ChatMessage[], tools?: ToolDefinition[]): RenderedPrompt {
    const messages = toTextMessages(conversation, tools);
    if (!this.chatWrapper) {
      return { tokens: this.withBos(this.model.tokenize(renderPlainPrompt(messages))), stopStrings: [], stopTokens: new Set() };
    }
    const chatHistory: ChatHistoryItem[] = messages.map((message) =>
      message.role === "assistant" ? { type: "model", response: [message.content] } : { type: message.role === "system" ? "system" : "user", text: message.content },
    );
    chatHistory.push({ type: "model", response: [] });
    const state = this.chatWrapper.generateContextState({ chatHistory });
    const rendered: RenderedPrompt = { tokens: this.withBos(state.contextText.tokenize(this.model.tokenizer)), stopStrings: [], stopTokens: new Set() };
    for (const trigger of state.stopGenerationTriggers ?? []) {
      const tokens = trigger.tokenize(this.model.tokenizer);
      const only = tokens.length === 1 ? tokens[0] : undefined;
      if (only !== undefined && this.model.isSpecialToken(only)) rendered.stopTokens.add(only);
      else if (tokens.length > 0) rendered.stopStrings.push(this.model.detokenize(tokens, true));
    }
    return rendered;
  }

  /**
   * Raw text (legacy completions), no template: special-token text in it (e.g. `<|im_start|>`) becomes those tokens,
   * as in llama.cpp's server, since the client writes the whole prompt. Refuses a prompt of no tokens at all.
   */
  renderRaw(text: string): RenderedPrompt {
    const tokens = this.withBos(this.model.tokenize(text, true));
    if (tokens.length === 0) throw new ClawError("bad_request", "The prompt is empty.", { param: "prompt" });
    return { tokens, stopStrings: [], stopTokens: new Set() };
  }

  count(messages: ChatMessage[], tools?: ToolDefinition[]): number {
    return this.render(messages, tools).tokens.length;
  }

  /** Adds the beginning-of-sequence token when the model asks for it and the template did not already. */
  private withBos(tokens: Token[]): Token[] {
    const bos = this.model.tokens.bos;
    if (!this.model.tokens.shouldPrependBosToken || bos === null || tokens[0] === bos) return tokens;
    return [bos, ...tokens];
  }
}
