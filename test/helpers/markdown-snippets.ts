// Extracts the fenced code blocks of a Markdown file, each with its language and the `<!-- snippet: … -->` mark before it.

export interface SnippetMark {
  /** What the block is: `config`, `not-config`, `frame`, `mqtt-frame` (anything else is refused by the doc test). */
  kind: string;
  /** The words after the kind, e.g. `plugins[]` or `example-paths`; a parenthesised remark is dropped. */
  arguments: string[];
}

export interface MarkdownSnippet {
  /** The file, as given. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The info string's first word, lower case; "" for an untagged block. */
  language: string;
  /** The block's text, with the fence's own indentation removed from each line. */
  text: string;
  /** The `<!-- snippet: … -->` comment on the last non-blank line before the fence, if any. */
  mark: SnippetMark | undefined;
}

const openingFence = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/;
const markComment = /^\s*<!--\s*snippet:\s*(.*?)\s*-->\s*$/;

/** Every fenced block of `markdown`, in order (a block left open runs to the end of the file, as CommonMark reads it). */
export function extractSnippets(file: string, markdown: string): MarkdownSnippet[] {
  const lines = markdown.split(/\r?\n/);
  const snippets: MarkdownSnippet[] = [];
  for (let index = 0; index < lines.length; index += 1) {
    const opening = openingFence.exec(lines[index] ?? "");
    if (!opening) continue;
    const [, indentation = "", fence = "```", info = ""] = opening;
    const closing = new RegExp(`^\\s*${fence[0] === "`" ? "`" : "~"}{${fence.length},}\\s*$`);
    const body: string[] = [];
    let end = index + 1;
    while (end < lines.length && !closing.test(lines[end] ?? "")) {
      body.push(removeIndentation(lines[end] ?? "", indentation.length));
      end += 1;
    }
    snippets.push({ file, line: index + 1, language: info.toLowerCase(), text: body.join("\n"), mark: markBefore(lines, index) });
    index = end;
  }
  return snippets;
}

/** Parses the inside of `<!-- snippet: KIND ARGUMENTS… (remark) -->`. */
export function parseMark(content: string): SnippetMark {
  const words = content.replace(/\(.*$/, "").trim().split(/\s+/).filter(Boolean);
  return { kind: words[0] ?? "", arguments: words.slice(1) };
}

function markBefore(lines: readonly string[], fenceIndex: number): SnippetMark | undefined {
  let index = fenceIndex - 1;
  while (index >= 0 && (lines[index] ?? "").trim() === "") index -= 1;
  const found = markComment.exec(lines[index] ?? "");
  return found ? parseMark(found[1] ?? "") : undefined;
}

function removeIndentation(line: string, width: number): string {
  let removed = 0;
  while (removed < width && (line[removed] === " " || line[removed] === "\t")) removed += 1;
  return line.slice(removed);
}
