// The console's admin token: from the URL fragment (#token=…, then removed from the address bar), kept in sessionStorage, or got by password login.

// Its own key: the chat page's token in the same tab is a user's, not necessarily an admin's.
const storageKey = "clawbot.console.token";

/**
 * Takes `#token=<jwt>` from the fragment (never sent to the server), stores it for this tab and removes it from the
 * address bar and the history entry.
 * @returns {string | undefined} the token now stored, if any
 */
export function takeFragmentToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("token");
  if (fragment.has("token")) {
    fragment.delete("token");
    const rest = fragment.toString();
    history.replaceState(history.state, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
  }
  if (token) storeToken(token);
  return storedToken();
}

/** @returns {string | undefined} */
export function storedToken() {
  return sessionStorage.getItem(storageKey) ?? undefined;
}

/** @param {string} token */
export function storeToken(token) {
  sessionStorage.setItem(storageKey, token.trim());
}

export function forgetToken() {
  sessionStorage.removeItem(storageKey);
}

/**
 * `POST /auth/login` with a user name and password; stores and returns the token, or throws an Error with the node's message.
 * @param {string} username
 * @param {string} password
 * @returns {Promise<string>}
 */
export async function login(username, password) {
  const response = await fetch("/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
    credentials: "omit",
    cache: "no-store",
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || typeof body?.token !== "string") throw new Error(String(body?.error?.message ?? `HTTP ${response.status}`));
  storeToken(body.token);
  return body.token;
}
