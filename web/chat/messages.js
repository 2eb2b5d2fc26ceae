// The conversation on screen: user and assistant messages, streaming text rendered at most once per frame, notes, tool steps, citations.
import { t } from "./i18n.js";
import { linkCitationMarkers, renderMarkdown } from "./markdown.js";

/** @typedef {Record<string, any>} Frame */

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [className]
 * @param {string} [text] set as textContent (never parsed as HTML)
 * @returns {HTMLElementTagNameMap[K]}
 */
function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class MessageList {
  /** @param {HTMLElement} container */
  constructor(container) {
    this.container = container;
  }

  clear() {
    this.container.replaceChildren();
  }

  /** @param {string} text */
  addUser(text) {
    const article = messageElement("user");
    article.append(element("div", "message-body user-text", text));
    this.append(article);
    return article;
  }

  /**
   * A finished assistant message (from a session's history).
   * @param {string} text
   */
  addAssistantText(text) {
    const message = new AssistantMessage();
    message.setText(text);
    message.setState("done");
    this.append(message.article);
    return message;
  }

  /** A new assistant message that is about to stream. */
  addAssistant() {
    const message = new AssistantMessage();
    this.append(message.article);
    return message;
  }

  /** @param {HTMLElement} node */
  append(node) {
    const atBottom = this.container.scrollHeight - this.container.scrollTop - this.container.clientHeight < 80;
    this.container.append(node);
    if (atBottom) node.scrollIntoView({ block: "end" });
  }
}

/** @param {"user" | "assistant"} role */
function messageElement(role) {
  const article = element("article", `message message-${role}`);
  article.dataset.testid = "message";
  article.dataset.role = role;
  // The author label is drawn by CSS from this attribute, so the message's textContent is its text alone.
  article.dataset.author = role === "user" ? t("you") : t("assistant");
  return article;
}

/** One assistant answer: its text, state (streaming, done, stopped, error), tool steps and sources. */
export class AssistantMessage {
  constructor() {
    this.article = messageElement("assistant");
    this.body = element("div", "message-body markdown");
    this.body.dataset.testid = "message-body";
    this.tools = element("div", "message-tools");
    this.note = element("p", "message-note");
    this.note.dataset.testid = "message-note";
    this.note.hidden = true;
    this.article.append(this.body, this.tools, this.note);
    this.text = "";
    this.rendered = false;
    /** @type {number | undefined} */
    this.frameRequest = undefined;
    this.setState("streaming");
  }

  /** @param {"streaming" | "done" | "stopped" | "error"} state */
  setState(state) {
    this.article.dataset.state = state;
  }

  get state() {
    return this.article.dataset.state;
  }

  /**
   * Adds streamed text. The first piece shows at once; later ones are rendered at most once per animation frame, so a
   * fast model does not re-parse the Markdown for every token.
   * @param {string} delta
   */
  appendDelta(delta) {
    this.text += delta;
    if (!this.rendered) return this.render();
    if (this.frameRequest === undefined) {
      this.frameRequest = requestAnimationFrame(() => {
        this.frameRequest = undefined;
        this.render();
      });
    }
  }

  /** @param {string} text */
  setText(text) {
    this.text = text;
    this.render();
  }

  render() {
    if (this.frameRequest !== undefined) cancelAnimationFrame(this.frameRequest);
    this.frameRequest = undefined;
    this.rendered = true;
    renderMarkdown(this.body, this.text);
  }

  /** A `restart` frame: another worker starts the answer again; the text so far is void. */
  restart() {
    this.setText("");
    this.showNote(t("restarted"));
  }

  /**
   * The `finish` frame: its text is the answer as the plugins left it (redactions, a disclaimer appended at the end),
   * so it replaces what was streamed. A cancelled answer keeps its partial text.
   * @param {Frame} frame
   */
  finish(frame) {
    const text = typeof frame.text === "string" ? frame.text : "";
    const cancelled = frame.finish_reason === "cancelled";
    this.setText(cancelled && text.length < this.text.length ? this.text : text);
    if (cancelled) this.showNote(t("stopped"));
    else if (frame.finish_reason === "length") this.showNote(t("truncated"));
    else this.hideNote();
    this.setState(cancelled ? "stopped" : "done");
    if (Array.isArray(frame.citations) && frame.citations.length > 0) this.showCitations(frame.citations);
  }

  /**
   * An `error` frame ends the answer: its code and message are shown; the partial text stays.
   * @param {Frame} frame
   */
  fail(frame) {
    this.render();
    if (frame.code === "cancelled") {
      this.setState("stopped");
      return this.showNote(t("stopped"));
    }
    this.setState("error");
    this.note.classList.add("message-error");
    this.note.dataset.code = String(frame.code ?? "");
    this.showNote(`${t("error")}: ${String(frame.code ?? "")} — ${String(frame.message ?? "")}`);
  }

  /** The socket closed while the answer ran. */
  interrupted() {
    this.fail({ code: "unavailable", message: t("connectionLost") });
  }

  /** @param {string} text */
  showNote(text) {
    this.note.textContent = text;
    this.note.hidden = false;
  }

  hideNote() {
    this.note.hidden = true;
  }

  /**
   * A tool step (`tool-call` or `tool-result`): a one-line note with the tool's name and outcome.
   * @param {Frame} frame
   */
  toolStep(frame) {
    const line = frame.type === "tool-call"
      ? `${t("toolCall")}: ${String(frame.call?.name ?? "")}`
      : `${t("toolResult")}: ${String(frame.name ?? "")} (${String(frame.outcome ?? "")})`;
    const step = element("p", "tool-step", line);
    step.dataset.testid = frame.type;
    this.tools.append(step);
  }

  /**
   * A `tool-approval` frame: the call's name and arguments with Approve / Deny, answered through `answer`.
   * @param {Frame} frame
   * @param {(approved: boolean) => boolean} answer sends the tool.approve frame; false when it could not be sent
   */
  askApproval(frame, answer) {
    const box = element("div", "tool-approval");
    box.dataset.testid = "tool-approval";
    box.append(element("p", undefined, t("approvalAsked")), element("code", "tool-name", String(frame.call?.name ?? "")));
    box.append(element("pre", "tool-arguments", String(frame.call?.arguments ?? "")));
    const approve = element("button", "approve", t("approve"));
    const deny = element("button", "deny", t("deny"));
    approve.dataset.testid = "tool-approve";
    deny.dataset.testid = "tool-deny";
    const decide = (/** @type {boolean} */ approved) => {
      if (!answer(approved)) return;
      approve.disabled = deny.disabled = true;
      box.append(element("p", "tool-decision", approved ? t("approved") : t("denied")));
    };
    approve.addEventListener("click", () => decide(true));
    deny.addEventListener("click", () => decide(false));
    box.append(approve, deny);
    this.tools.append(box);
  }

  /**
   * The sources the knowledge base put into the prompt: a list under the answer, each entry opening its details, and
   * the answer's [n] markers linked to them.
   * @param {Frame[]} citations
   */
  showCitations(citations) {
    const section = element("section", "citations");
    section.append(element("h3", "citations-title", t("sources")));
    const list = element("ol", "citation-list");
    /** @type {Map<number, () => void>} */
    const openers = new Map();
    for (const citation of citations) {
      const index = Number(citation.index);
      const item = element("li", "citation");
      const button = element("button", "citation-button", `[${index}] ${String(citation.source ?? "")}`);
      button.type = "button";
      button.dataset.testid = "citation";
      button.dataset.index = String(index);
      button.setAttribute("aria-expanded", "false");
      const details = element("dl", "citation-details");
      details.dataset.testid = "citation-details";
      details.hidden = true;
      const fields = [
        [t("source"), citation.source],
        [t("collection"), citation.collection],
        [t("document"), citation.doc_id],
        [t("chunk"), citation.chunk],
        [t("score"), typeof citation.score === "number" ? citation.score.toFixed(4) : citation.score],
      ];
      for (const [label, value] of fields) details.append(element("dt", undefined, String(label)), element("dd", undefined, String(value ?? "")));
      const toggle = (/** @type {boolean} */ open) => {
        details.hidden = !open;
        button.setAttribute("aria-expanded", String(open));
      };
      button.addEventListener("click", () => toggle(details.hidden));
      openers.set(index, () => {
        toggle(true);
        item.scrollIntoView({ block: "nearest" });
        button.focus();
      });
      item.append(button, details);
      list.append(item);
    }
    section.append(list);
    this.article.insertBefore(section, this.note);
    linkCitationMarkers(this.body, new Set(openers.keys()), (index) => openers.get(index)?.());
  }
}
