// CONTRACT (helper "IM core" implements): long answers cut at a platform's byte limit without breaking a UTF-8 character or a Markdown code block.

/**
 * Splits `text` into pieces of at most `maxBytes` UTF-8 bytes each, preferring paragraph, then line, then sentence,
 * then word boundaries; a fenced code block cut in two is closed at the end of one piece and reopened (same fence and
 * info string) at the start of the next; never splits a surrogate pair or a combining sequence's first character.
 * SEAM: the IM core helper implements it.
 */
export declare function splitMessage(text: string, maxBytes: number): string[];
