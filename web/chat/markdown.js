// Markdown of untrusted model text, made safe: markdown-it without raw HTML, links only http(s)/mailto, no images or inline styles.
import markdownit from "/web/vendor/markdown-it.mjs";

const md = markdownit({ html: false, linkify: true, breaks: true, typographer: false });

// Images would make the browser fetch whatever URL the model wrote (the CSP blocks it, but noisily): keep them as text.
md.disable("image");

/** Only web and mail links; javascript:, data:, relative and every other scheme stay plain text. */
md.validateLink = (url) => /^(https?:\/\/|mailto:)/i.test(url.trim());

const defaultRender = md.renderer.rules.link_open ?? ((tokens, index, options, _env, self) => self.renderToken(tokens, index, options));
md.renderer.rules.link_open = (tokens, index, options, env, self) => {
  const token = tokens[index];
  token.attrSet("target", "_blank");
  token.attrSet("rel", "noopener noreferrer");
  return defaultRender(tokens, index, options, env, self);
};

// Table cells carry their alignment as style="" attributes, which the page's CSP refuses: use classes instead.
for (const rule of ["th_open", "td_open"]) {
  md.renderer.rules[rule] = (tokens, index, options, _env, self) => {
    const token = tokens[index];
    const style = token.attrGet("style");
    if (style) {
      const align = /text-align:(left|right|center)/.exec(style)?.[1];
      token.attrs = (token.attrs ?? []).filter(([name]) => name !== "style");
      if (align) token.attrJoin("class", `align-${align}`);
    }
    return self.renderToken(tokens, index, options);
  };
}

/**
 * Renders `text` as Markdown into `element`, replacing its content. The only HTML inserted is markdown-it's output,
 * which escapes every character of the text it does not turn into markup itself.
 * @param {HTMLElement} element
 * @param {string} text
 */
export function renderMarkdown(element, text) {
  element.innerHTML = md.render(text);
}

/**
 * Turns each `[n]` in the rendered text (outside code) whose n is a citation into a button that calls `open(n)`.
 * @param {HTMLElement} element
 * @param {Set<number>} indexes
 * @param {(index: number) => void} open
 */
export function linkCitationMarkers(element, indexes, open) {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) => (node.parentElement?.closest("code, pre, a") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  /** @type {Text[]} */
  const nodes = [];
  while (walker.nextNode()) nodes.push(/** @type {Text} */ (walker.currentNode));
  for (const node of nodes) {
    const text = node.data;
    const pattern = /\[(\d{1,3})\]/g;
    let last = 0;
    const fragment = document.createDocumentFragment();
    for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
      const index = Number(match[1]);
      if (!indexes.has(index)) continue;
      fragment.append(text.slice(last, match.index));
      const marker = document.createElement("button");
      marker.type = "button";
      marker.className = "citation-marker";
      marker.dataset.testid = "citation-marker";
      marker.dataset.index = String(index);
      marker.textContent = `[${index}]`;
      marker.addEventListener("click", () => open(index));
      fragment.append(marker);
      last = match.index + match[0].length;
    }
    if (last === 0) continue;
    fragment.append(text.slice(last));
    node.replaceWith(fragment);
  }
}
