// Helpers every embedding engine shares: L2 normalization and the checks made before anything is computed.
import { ClawError } from "../core/errors.js";

/** The vector scaled to length 1, as OpenAI's embeddings are (so a dot product is the cosine similarity); zeros stay zeros. */
export function normalizeVector(vector: ArrayLike<number>): number[] {
  let squares = 0;
  for (let index = 0; index < vector.length; index += 1) squares += (vector[index] as number) ** 2;
  const norm = Math.sqrt(squares);
  return Array.from(vector, (value) => (norm > 0 ? value / norm : 0));
}

/**
 * Checks every text before any is embedded: none empty, each shorter than the context (`countTokens` includes the
 * tokens the engine adds). Returns the token count of each.
 */
export function checkEmbeddingInputs(texts: readonly string[], contextSize: number, countTokens: (text: string) => number): number[] {
  if (texts.length === 0) throw new ClawError("bad_request", "There is nothing to embed: input is empty.", { param: "input" });
  return texts.map((text, index) => {
    if (text.length === 0) throw new ClawError("bad_request", `input[${index}] is an empty string.`, { param: `input[${index}]` });
    const tokens = countTokens(text);
    if (tokens >= contextSize) {
      throw new ClawError(
        "context_length_exceeded",
        `input[${index}] is ${tokens} tokens; the embedding context holds ${contextSize} (including what the model adds).`,
        { param: `input[${index}]` },
      );
    }
    return tokens;
  });
}
