// A session's title for its owner's list: its first question, whitespace collapsed, cut to 80 characters.
/** Characters a title keeps at most (code points: a surrogate pair is never split). */
export const titleLength = 80;

/** Characters of the first question read from the database: enough for any title once leading whitespace is gone. */
export const titleSourceLength = 4 * titleLength;

/** The title of a session whose first stored question is `question`: "" when there is none. */
export function sessionTitle(question: string | null | undefined): string {
  if (!question) return "";
  const collapsed = question.replace(/\s+/gu, " ").trim();
  // Array.from walks code points, so the cut never leaves half a surrogate pair.
  const characters = Array.from(collapsed);
  return characters.length <= titleLength ? collapsed : characters.slice(0, titleLength).join("").trimEnd();
}
