// A page's access token: taken from the URL fragment (#token=…, then removed from the address bar), kept in this tab's sessionStorage, or got by password login.

/** A refused login: the node's error code and message (or a network failure), with the HTTP status. */
export class LoginError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * The token functions of one page, kept under its own sessionStorage key (the chat's token is a user's; the console's
 * must be an admin's, so they are not shared even in one tab).
 * @param {string} storageKey
 */
export function tokenStore(storageKey) {
  /** @returns {string | undefined} this tab's token */
  const storedToken = () => sessionStorage.getItem(storageKey) ?? undefined;

  /** @param {string} token */
  const storeToken = (token) => sessionStorage.setItem(storageKey, token.trim());

  const forgetToken = () => sessionStorage.removeItem(storageKey);

  /**
   * Takes a token given as `#token=<jwt>` in the fragment (which browsers never send to the server), stores it for
   * this tab and removes it from the address bar and history entry, so it is neither bookmarked nor shown over a shoulder.
   * @returns {string | undefined} the token now stored, if any
   */
  const takeFragmentToken = () => {
    const fragment = new URLSearchParams(location.hash.slice(1));
    const token = fragment.get("token");
    if (fragment.has("token")) {
      fragment.delete("token");
      const rest = fragment.toString();
      history.replaceState(history.state, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
    }
    if (token) storeToken(token);
    return storedToken();
  };

  /**
   * Logs in with a user name and password (`POST /auth/login`), stores the token it answers with and returns it.
   * @param {string} username
   * @param {string} password
   * @returns {Promise<string>}
   */
  const login = async (username, password) => {
    let response;
    try {
      response = await fetch("/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username, password }),
        credentials: "omit",
        cache: "no-store",
      });
    } catch (error) {
      throw new LoginError(0, "network", error instanceof Error ? error.message : String(error));
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok || typeof body?.token !== "string") {
      throw new LoginError(response.status, String(body?.error?.code ?? "unknown"), String(body?.error?.message ?? `HTTP ${response.status}`));
    }
    storeToken(body.token);
    return body.token;
  };

  return { storedToken, storeToken, forgetToken, takeFragmentToken, login };
}
