// PLACEHOLDER (helper 1 replaces the bodies). Chinese word segmentation (jieba) for the FTS5 index and its queries; English and mixed text too.

export interface TextSegmenterOptions {
  /** A user dictionary file (jieba's format: `word [frequency] [tag]` per line), added to the built-in domain words. */
  userDictionary?: string;
}

export class TextSegmenter {
  /** Loads jieba's dictionary, the built-in domain words (智能体, 国密, 病历…) and the user dictionary. */
  static create(options: TextSegmenterOptions = {}): TextSegmenter {
    void options;
    throw new Error("not implemented");
  }

  /** The text as space-separated terms for the FTS5 index (lower-cased; punctuation dropped). */
  indexText(text: string): string {
    void text;
    throw new Error("not implemented");
  }

  /** An FTS5 MATCH expression for a query (its terms, quoted, OR-ed); undefined when it has no searchable term. */
  matchExpression(query: string): string | undefined {
    void query;
    throw new Error("not implemented");
  }
}
