// The session list: this user's sessions from the `sessions` frame, the current one marked, and which one is current (kept in sessionStorage).
import { language, t } from "./i18n.js";

const storageKey = "clawbot.session";

/** The session this tab is in: the stored one (a reload resumes it), else a new one. */
export function currentSession() {
  const stored = sessionStorage.getItem(storageKey);
  if (stored) return stored;
  return newSession();
}

/** Starts a new session id and makes it current. */
export function newSession() {
  const session = crypto.randomUUID();
  sessionStorage.setItem(storageKey, session);
  return session;
}

/** @param {string} session */
export function selectSession(session) {
  sessionStorage.setItem(storageKey, session);
}

/**
 * @typedef {{session: string, title?: string | null, last_activity?: string, turns?: number}} SessionEntry
 */

export class SessionList {
  /**
   * @param {HTMLElement} list the `<ul data-testid="session-list">`
   * @param {HTMLElement} empty shown when there are no sessions
   * @param {(session: string) => void} onSelect
   */
  constructor(list, empty, onSelect) {
    this.list = list;
    this.empty = empty;
    this.onSelect = onSelect;
    /** @type {SessionEntry[]} */
    this.entries = [];
    this.current = "";
  }

  /**
   * @param {SessionEntry[]} entries newest activity first
   * @param {string} current
   */
  show(entries, current) {
    this.entries = entries;
    this.current = current;
    this.render();
  }

  /** @param {string} current */
  markCurrent(current) {
    this.current = current;
    for (const button of this.list.querySelectorAll("button[data-session]")) {
      button.setAttribute("aria-current", String(button.getAttribute("data-session") === current));
    }
  }

  /** @param {string} session */
  has(session) {
    return this.entries.some((entry) => entry.session === session);
  }

  render() {
    const formatter = new Intl.DateTimeFormat(language() === "zh" ? "zh-CN" : undefined, { dateStyle: "short", timeStyle: "short" });
    const items = this.entries.map((entry) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "session-entry";
      button.dataset.testid = "session";
      button.dataset.session = entry.session;
      button.setAttribute("aria-current", String(entry.session === this.current));
      const title = document.createElement("span");
      title.className = "session-title";
      title.textContent = entry.title?.trim() || t("untitled");
      const meta = document.createElement("span");
      meta.className = "session-meta";
      const when = entry.last_activity ? new Date(entry.last_activity) : undefined;
      const parts = [];
      if (when && !Number.isNaN(when.getTime())) parts.push(formatter.format(when));
      if (typeof entry.turns === "number") parts.push(`${entry.turns} ${entry.turns === 1 ? t("turn") : t("turns")}`);
      meta.textContent = parts.join(" · ");
      button.append(title, meta);
      button.addEventListener("click", () => this.onSelect(entry.session));
      item.append(button);
      return item;
    });
    this.list.replaceChildren(...items);
    this.empty.hidden = items.length > 0;
  }
}
