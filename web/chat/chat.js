// The web chat page's wiring: configuration, sign-in, the connection, sending and stopping, sessions, language and the phone drawer.
import { Connection } from "./connection.js";
import { applyTexts, language, onLanguageChange, setLanguage, t } from "./i18n.js";
import { MessageList } from "./messages.js";
import { currentSession, newSession, selectSession, SessionList } from "./sessions.js";
import { LoginError, tokenStore } from "/web/shared/token-store.js";

const { forgetToken, login, storedToken, storeToken, takeFragmentToken } = tokenStore("clawbot.token");

/** @typedef {import("./messages.js").AssistantMessage} AssistantMessage */

/**
 * The element with this data-testid (the page's own markup: it is there).
 * @template {HTMLElement} T
 * @param {string} testid
 * @returns {T}
 */
function byTestId(testid) {
  return /** @type {T} */ (document.querySelector(`[data-testid="${testid}"]`));
}

const ui = {
  state: byTestId("connection-state"),
  language: /** @type {HTMLSelectElement} */ (byTestId("language")),
  signOut: /** @type {HTMLButtonElement} */ (byTestId("sign-out")),
  drawerToggle: byTestId("sessions-toggle"),
  sidebar: /** @type {HTMLElement} */ (document.querySelector("#sidebar")),
  backdrop: byTestId("drawer-backdrop"),
  newChat: byTestId("new-chat"),
  authPanel: byTestId("auth-panel"),
  loginForm: /** @type {HTMLFormElement} */ (byTestId("login-form")),
  tokenForm: /** @type {HTMLFormElement} */ (byTestId("token-form")),
  authError: byTestId("auth-error"),
  chatPanel: byTestId("chat-panel"),
  composer: /** @type {HTMLFormElement} */ (byTestId("composer")),
  input: /** @type {HTMLTextAreaElement} */ (byTestId("message-input")),
  send: /** @type {HTMLButtonElement} */ (byTestId("send")),
  stop: /** @type {HTMLButtonElement} */ (byTestId("stop")),
};

const messages = new MessageList(byTestId("messages"));
const sessions = new SessionList(byTestId("session-list"), /** @type {HTMLElement} */ (document.querySelector(".session-empty")), (session) => openSession(session));

let session = currentSession();
/** @type {Connection | undefined} */
let connection;
/** @type {Map<string, AssistantMessage>} the answers running on this connection, by request id */
const running = new Map();
/** The request whose answer the Stop button stops. */
let active = "";
/** @type {{key: string, detail?: string}} */
let shownState = { key: "stateConnecting" };
let needsToken = true;
let loginOffered = false;

function setState(/** @type {string} */ state, /** @type {string} */ key) {
  ui.state.dataset.state = state;
  shownState = { key };
  ui.state.textContent = t(key);
  updateButtons();
}

function updateButtons() {
  const ready = connection?.ready === true;
  ui.send.disabled = !ready || active !== "";
  ui.stop.disabled = active === "";
}

function showAuth(/** @type {string | undefined} */ why) {
  connection?.stop();
  connection = undefined;
  ui.authPanel.hidden = false;
  ui.chatPanel.hidden = true;
  ui.signOut.hidden = true;
  ui.loginForm.hidden = !loginOffered;
  ui.authError.hidden = !why;
  ui.authError.textContent = why ?? "";
  setState("signed-out", "stateSignedOut");
  (loginOffered ? /** @type {HTMLElement} */ (ui.loginForm.elements.namedItem("username")) : byTestId("token-input")).focus();
}

/** @param {import("./connection.js").WebsocketConfig} endpoint */
function connect(endpoint) {
  ui.authPanel.hidden = true;
  ui.chatPanel.hidden = false;
  ui.signOut.hidden = !needsToken;
  connection = new Connection({
    endpoint,
    token: storedToken,
    onState: (state) => {
      if (state === "signed-out") {
        forgetToken();
        return showAuth(t("tokenRejected"));
      }
      setState(state, state === "connected" ? "stateConnected" : state === "connecting" ? "stateConnecting" : "stateDisconnected");
    },
    onReady: () => {
      updateButtons();
      void refreshSessions(true);
    },
    onFrame: receive,
    onDrop: () => {
      for (const message of running.values()) message.interrupted();
      running.clear();
      active = "";
      updateButtons();
    },
  });
  connection.open();
}

/**
 * A frame of a running answer.
 * @param {Record<string, any>} frame
 */
function receive(frame) {
  const id = typeof frame.id === "string" ? frame.id : "";
  const message = running.get(id);
  if (!message) return;
  switch (frame.type) {
    case "text-delta":
      return message.appendDelta(String(frame.text ?? ""));
    case "restart":
      return message.restart();
    case "tool-call":
    case "tool-result":
      return message.toolStep(frame);
    case "tool-approval":
      return message.askApproval(frame, (approved) => connection?.send({ type: "tool.approve", id, call_id: String(frame.call?.id ?? ""), approved }) ?? false);
    case "finish":
    case "error":
      if (frame.type === "finish") message.finish(frame);
      else message.fail(frame);
      running.delete(id);
      if (active === id) active = "";
      updateButtons();
      // The exchange is stored before the finish is written: the list now has this session (and its new turn count).
      if (frame.type === "finish") void refreshSessions(false);
      return;
  }
}

/** Asks for the session list; on connect also shows the current session's messages when the page has none yet (a reload). */
async function refreshSessions(/** @type {boolean} */ resume) {
  if (!connection) return;
  const answer = await connection.request({ type: "sessions", id: `sessions-${crypto.randomUUID()}` }).catch(() => undefined);
  // A node without the sessions frame answers with an error frame: the page still chats, without a list.
  if (answer?.type !== "sessions" || !Array.isArray(answer.sessions)) return sessions.show([], session);
  sessions.show(answer.sessions, session);
  if (resume && byTestId("messages").childElementCount === 0 && sessions.has(session)) await showHistory(session);
}

/** @param {string} which */
async function showHistory(which) {
  if (!connection) return;
  const answer = await connection.request({ type: "history", id: `history-${crypto.randomUUID()}`, session: which }).catch(() => undefined);
  if (answer?.type !== "history" || !Array.isArray(answer.messages) || which !== session) return;
  messages.clear();
  for (const entry of answer.messages) {
    if (typeof entry?.content !== "string") continue;
    if (entry.role === "user") messages.addUser(entry.content);
    else if (entry.role === "assistant" && entry.content !== "") messages.addAssistantText(entry.content);
  }
}

/** Switches to another session: stops the answer running here, then shows that session's messages. */
function openSession(/** @type {string} */ which) {
  stopActive();
  session = which;
  selectSession(which);
  sessions.markCurrent(which);
  closeDrawer();
  messages.clear();
  void showHistory(which);
}

function startNewChat() {
  stopActive();
  session = newSession();
  sessions.markCurrent(session);
  messages.clear();
  closeDrawer();
  ui.input.focus();
}

function stopActive() {
  if (!active) return;
  connection?.send({ type: "cancel", id: active });
  ui.stop.disabled = true;
}

function sendMessage() {
  const text = ui.input.value.trim();
  if (!text || active || !connection?.ready) return;
  const id = crypto.randomUUID();
  if (!connection.send({ type: "chat", id, session, message: text })) return;
  messages.addUser(text);
  running.set(id, messages.addAssistant());
  active = id;
  ui.input.value = "";
  updateButtons();
}

function openDrawer() {
  ui.sidebar.dataset.open = "true";
  ui.backdrop.hidden = false;
  ui.drawerToggle.setAttribute("aria-expanded", "true");
}

function closeDrawer() {
  ui.sidebar.dataset.open = "false";
  ui.backdrop.hidden = true;
  ui.drawerToggle.setAttribute("aria-expanded", "false");
}

function relabel() {
  ui.language.value = language();
  ui.state.textContent = t(shownState.key);
  for (const article of document.querySelectorAll("[data-testid='message']")) {
    /** @type {HTMLElement} */ (article).dataset.author = article.getAttribute("data-role") === "user" ? t("you") : t("assistant");
  }
  sessions.render();
}

function wire(/** @type {import("./connection.js").WebsocketConfig} */ endpoint) {
  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage();
  });
  ui.input.addEventListener("keydown", (event) => {
    // Enter sends; Shift+Enter is a new line; Enter that confirms an input method's candidate (Chinese IME) is not a send.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendMessage();
    }
  });
  ui.stop.addEventListener("click", stopActive);
  ui.newChat.addEventListener("click", startNewChat);
  ui.drawerToggle.addEventListener("click", () => (ui.sidebar.dataset.open === "true" ? closeDrawer() : openDrawer()));
  ui.backdrop.addEventListener("click", closeDrawer);
  ui.signOut.addEventListener("click", () => {
    forgetToken();
    showAuth(undefined);
  });
  ui.tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const field = /** @type {HTMLTextAreaElement} */ (ui.tokenForm.elements.namedItem("token"));
    if (!field.value.trim()) return;
    storeToken(field.value);
    field.value = "";
    connect(endpoint);
  });
  ui.loginForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const username = /** @type {HTMLInputElement} */ (ui.loginForm.elements.namedItem("username"));
    const password = /** @type {HTMLInputElement} */ (ui.loginForm.elements.namedItem("password"));
    const submit = /** @type {HTMLButtonElement} */ (byTestId("login-submit"));
    submit.disabled = true;
    try {
      await login(username.value, password.value);
      password.value = "";
      connect(endpoint);
    } catch (error) {
      ui.authError.hidden = false;
      ui.authError.textContent = error instanceof LoginError && error.status === 429 ? t("rateLimited") : `${t("loginFailed")}: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      submit.disabled = false;
    }
  });
}

async function main() {
  applyTexts(document);
  ui.language.value = language();
  ui.language.addEventListener("change", () => setLanguage(ui.language.value === "zh" ? "zh" : "en"));
  onLanguageChange(relabel);
  takeFragmentToken();
  updateButtons();
  /** @type {{websocket: import("./connection.js").WebsocketConfig | null, login: boolean}} */
  let config;
  try {
    const response = await fetch("/web/config.json", { cache: "no-store", credentials: "omit" });
    config = await response.json();
  } catch {
    return setState("unavailable", "configFailed");
  }
  if (!config.websocket) return setState("unavailable", "stateUnavailable");
  needsToken = config.websocket.auth !== "none";
  loginOffered = config.login === true;
  wire(config.websocket);
  if (needsToken && !storedToken()) return showAuth(undefined);
  connect(config.websocket);
}

void main();
