// The operator console: takes an admin token, polls GET /admin/status every 2 s and fills the panels; the policy editor.
import { applyStaticTexts, currentLanguage, setLanguage, text } from "./console-text.js";
import { tokenStore } from "/web/shared/token-store.js";
import { renderStatus } from "./panels.js";
import { createPolicyEditor } from "./policy-editor.js";

// Its own key: the chat page's token in the same tab is a user's, not necessarily an admin's.
const { forgetToken, login, storedToken, storeToken, takeFragmentToken } = tokenStore("clawbot.console.token");

const refreshMs = 2000;

/** @param {string} id */
const byTestId = (id) => /** @type {HTMLElement} */ (document.querySelector(`[data-testid="${id}"]`));

let timer;
let lastStatus;
let policyLoaded = false;

/**
 * An admin API call with this tab's token; answers the status and the JSON body (an empty object when there is none).
 * @param {string} method
 * @param {string} path
 * @param {{body?: string, type?: string}} [init]
 */
async function call(method, path, init = {}) {
  const headers = { authorization: `Bearer ${storedToken() ?? ""}` };
  if (init.type) headers["content-type"] = init.type;
  const response = await fetch(path, { method, headers, body: init.body, cache: "no-store", credentials: "omit" });
  const body = await response.json().catch(() => ({}));
  return { status: response.status, body };
}

const policy = createPolicyEditor(call);

/** @param {string} message */
function showAuth(message) {
  stopPolling();
  byTestId("status-panel").hidden = true;
  byTestId("sign-out").hidden = true;
  byTestId("auth-panel").hidden = false;
  const notice = byTestId("auth-message");
  notice.hidden = !message;
  notice.textContent = message ?? "";
}

function stopPolling() {
  clearTimeout(timer);
  timer = undefined;
}

async function poll() {
  let answer;
  try {
    answer = await call("GET", "/admin/status");
  } catch {
    byTestId("refresh-state").textContent = text("offline");
    byTestId("refresh-state").dataset.state = "bad";
    timer = setTimeout(poll, refreshMs);
    return;
  }
  // A refused token is forgotten: a reload asks for another instead of failing again.
  if (answer.status === 401 || answer.status === 403) {
    forgetToken();
    return showAuth(text(answer.status === 401 ? "tokenRefused" : "needsAdmin"));
  }
  if (answer.status === 200) {
    lastStatus = answer.body;
    byTestId("auth-panel").hidden = true;
    byTestId("auth-message").hidden = true;
    byTestId("status-panel").hidden = false;
    byTestId("sign-out").hidden = false;
    renderStatus(lastStatus);
    if (!policyLoaded) {
      policyLoaded = true;
      await policy.load();
    } else {
      policy.policyIs(lastStatus.policy);
    }
    byTestId("refresh-state").textContent = text("updated", new Date().toLocaleTimeString());
    byTestId("refresh-state").dataset.state = "ok";
  } else {
    byTestId("refresh-state").textContent = answer.body?.error?.message ?? `HTTP ${answer.status}`;
    byTestId("refresh-state").dataset.state = "bad";
  }
  timer = setTimeout(poll, refreshMs);
}

function start() {
  stopPolling();
  policyLoaded = false;
  void poll();
}

async function offerLogin() {
  try {
    const response = await fetch("/web/config.json", { cache: "no-store", credentials: "omit" });
    const config = await response.json();
    byTestId("login-form").hidden = config?.login !== true;
  } catch {
    // Without the page config, the paste box alone is offered.
  }
}

function wire() {
  const language = /** @type {HTMLSelectElement} */ (byTestId("language"));
  language.value = currentLanguage();
  language.addEventListener("change", () => {
    setLanguage(/** @type {"en" | "zh"} */ (language.value));
    if (lastStatus && !byTestId("status-panel").hidden) renderStatus(lastStatus);
  });
  byTestId("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = /** @type {HTMLTextAreaElement} */ (byTestId("token-input"));
    if (!input.value.trim()) return;
    storeToken(input.value);
    input.value = "";
    start();
  });
  byTestId("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = /** @type {HTMLFormElement} */ (event.currentTarget);
    const data = new FormData(form);
    try {
      await login(String(data.get("username") ?? ""), String(data.get("password") ?? ""));
      form.reset();
      start();
    } catch (error) {
      showAuth(text("loginFailed", error instanceof Error ? error.message : String(error)));
    }
  });
  byTestId("sign-out").addEventListener("click", () => {
    forgetToken();
    showAuth();
  });
}

applyStaticTexts();
wire();
void offerLogin();
if (takeFragmentToken()) start();
else showAuth();
