// Renders chat messages into prompt tokens: the model's own chat template when it has one, plain text otherwise.
import { type ChatHistoryItem, type ChatWrapper, type LlamaModel, type LlamaText, type Token, resolveChatWrapper } from "node-llama-cpp";
import type { ChatMessage } from "../../core/types.js";
import { renderPlainPrompt } from "../plain-prompt.js";

export interface RenderedPrompt {
  /** Prompt tokens, without the beginning-of-sequence token when LlamaCompletion prepends it. */
  tokens: Token[];
  /** Stop triggers the chat template asks for (end-of-turn markers). */
  stopTriggers: LlamaText[];
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

  render(messages: ChatMessage[]): RenderedPrompt {
    if (!this.chatWrapper) {
      return { tokens: this.model.tokenize(renderPlainPrompt(messages)), stopTriggers: [] };
    }
    const chatHistory: ChatHistoryItem[] = messages.map((message) =>
      message.role === "assistant"
        ? { type: "model", response: [message.content] }
        : { type: message.role, text: message.content },
    );
    chatHistory.push({ type: "model", response: [] });
    const state = this.chatWrapper.generateContextState({ chatHistory });
    const tokens = state.contextText.tokenize(this.model.tokenizer);
    // LlamaCompletion prepends BOS itself when the model asks for it; drop the template's copy only then.
    const bos = this.model.tokens.bos;
    if (this.model.tokens.shouldPrependBosToken && bos !== null && tokens[0] === bos) tokens.shift();
    return { tokens, stopTriggers: state.stopGenerationTriggers ?? [] };
  }

  /** Prompt length as the context will hold it, with the beginning-of-sequence token. */
  count(messages: ChatMessage[]): number {
    return this.render(messages).tokens.length + (this.model.tokens.shouldPrependBosToken ? 1 : 0);
  }
}
