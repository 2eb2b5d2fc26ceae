// Each token's own text and UTF-8 bytes, as logprobs report them (a token can hold part of a character).
import type { LlamaModel, Token } from "node-llama-cpp";

export interface TokenPiece {
  text: string;
  bytes: number[];
}

/** Tokens whose pieces are kept (a vocabulary's common tokens; the map is cleared when it grows past this). */
const maxCachedPieces = 8192;

export class TokenPieces {
  private readonly pieces = new Map<Token, TokenPiece>();
  /** A plain token decoded before each one, so the piece keeps its leading space (SentencePiece drops it at the start). */
  private readonly anchor: Token[];
  private readonly anchorText: string;

  constructor(private readonly model: LlamaModel) {
    this.anchor = model.tokenize("a", false).slice(0, 1);
    this.anchorText = this.anchor.length > 0 ? model.detokenize(this.anchor, false) : "";
  }

  piece(token: Token): TokenPiece {
    let piece = this.pieces.get(token);
    if (piece) return piece;
    const text = this.text(token);
    piece = { text, bytes: text.includes("\uFFFD") ? (this.rawBytes(token) ?? utf8(text)) : utf8(text) };
    if (this.pieces.size >= maxCachedPieces) this.pieces.clear();
    this.pieces.set(token, piece);
    return piece;
  }

  private text(token: Token): string {
    if (this.anchor.length === 0) return this.model.detokenize([token], false);
    const whole = this.model.detokenize([...this.anchor, token], false);
    return whole.startsWith(this.anchorText) ? whole.slice(this.anchorText.length) : this.model.detokenize([token], false);
  }

  /** The bytes of a token that is part of a character: from its vocabulary entry (undefined when that cannot be read). */
  private rawBytes(token: Token): number[] | undefined {
    // node-llama-cpp has no public call for a token's vocabulary text; its binding has one.
    const binding = (this.model as unknown as { _model?: { getTokenString?(token: number): string | undefined } })._model;
    const vocabularyText = binding?.getTokenString?.(token);
    if (typeof vocabularyText !== "string") return undefined;
    return vocabularyBytes(vocabularyText, this.model.vocabularyType);
  }
}

/**
 * The bytes a vocabulary entry stands for: SentencePiece byte tokens are written `<0xE2>` and spaces `▁`; byte-level
 * BPE (GPT-2 style) writes each byte as one printable character.
 */
export function vocabularyBytes(text: string, vocabularyType: string): number[] | undefined {
  const byteToken = /^<0x([0-9A-Fa-f]{2})>$/.exec(text);
  if (byteToken) return [Number.parseInt(byteToken[1] as string, 16)];
  if (vocabularyType === "spm") return utf8(text.replaceAll("\u2581", " "));
  if (vocabularyType !== "bpe") return undefined;
  const bytes: number[] = [];
  for (const character of text) {
    const byte = byteLevelDecoder.get(character);
    if (byte === undefined) return undefined;
    bytes.push(byte);
  }
  return bytes;
}

function utf8(text: string): number[] {
  return [...Buffer.from(text, "utf8")];
}

/** GPT-2's bytes_to_unicode, reversed: printable bytes stand for themselves, the others for 256 + their rank. */
const byteLevelDecoder: ReadonlyMap<string, number> = (() => {
  const decoder = new Map<string, number>();
  let shifted = 0;
  for (let byte = 0; byte < 256; byte++) {
    const printable = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || (byte >= 174 && byte <= 255);
    decoder.set(String.fromCodePoint(printable ? byte : 256 + shifted++), byte);
  }
  return decoder;
})();
