// The web chat's texts in English and Chinese, the language choice (navigator.language, a switch) and applying it to the page.

/** @typedef {"en" | "zh"} Language */

/** @type {Record<Language, Record<string, string>>} */
const texts = {
  en: {
    sessions: "Sessions",
    newChat: "New chat",
    noSessions: "No earlier sessions.",
    signIn: "Sign in",
    signOut: "Sign out",
    username: "User name",
    password: "Password",
    pasteToken: "Paste an access token",
    tokenPlaceholder: "eyJ… (a JWT from your administrator)",
    useToken: "Use token",
    messagePlaceholder: "Ask something… (Enter sends, Shift+Enter starts a new line)",
    send: "Send",
    stop: "Stop",
    you: "You",
    assistant: "Clawbot",
    stateConnecting: "Connecting…",
    stateConnected: "Connected",
    stateDisconnected: "Disconnected, retrying…",
    stateSignedOut: "Signed out",
    stateUnavailable: "No WebSocket gateway on this node",
    stopped: "Stopped",
    truncated: "Cut off at the length limit",
    restarted: "Restarted on another worker",
    connectionLost: "The connection was lost before the answer ended.",
    sources: "Sources",
    source: "Source",
    collection: "Collection",
    document: "Document",
    chunk: "Chunk",
    score: "Score",
    toolCall: "Tool call",
    toolResult: "Tool result",
    approvalAsked: "The assistant wants to run this tool:",
    approve: "Approve",
    deny: "Deny",
    approved: "Approved",
    denied: "Denied",
    turn: "turn",
    turns: "turns",
    untitled: "Untitled",
    loginFailed: "Sign-in failed",
    rateLimited: "Too many attempts; wait a moment and try again.",
    tokenRejected: "The token was refused or has expired; sign in again.",
    configFailed: "Could not read the page configuration.",
    error: "Error",
  },
  zh: {
    sessions: "会话",
    newChat: "新对话",
    noSessions: "暂无历史会话。",
    signIn: "登录",
    signOut: "退出登录",
    username: "用户名",
    password: "密码",
    pasteToken: "粘贴访问令牌",
    tokenPlaceholder: "eyJ…（管理员发放的 JWT）",
    useToken: "使用令牌",
    messagePlaceholder: "请输入问题……（回车发送，Shift+回车换行）",
    send: "发送",
    stop: "停止",
    you: "我",
    assistant: "Clawbot",
    stateConnecting: "正在连接……",
    stateConnected: "已连接",
    stateDisconnected: "连接已断开，正在重试……",
    stateSignedOut: "未登录",
    stateUnavailable: "此节点没有 WebSocket 网关",
    stopped: "已停止",
    truncated: "已达长度上限，回答被截断",
    restarted: "已在另一工作节点上重新开始",
    connectionLost: "回答结束前连接已断开。",
    sources: "来源",
    source: "来源",
    collection: "集合",
    document: "文档",
    chunk: "片段",
    score: "得分",
    toolCall: "工具调用",
    toolResult: "工具结果",
    approvalAsked: "助手请求运行以下工具：",
    approve: "批准",
    deny: "拒绝",
    approved: "已批准",
    denied: "已拒绝",
    turn: "轮",
    turns: "轮",
    untitled: "未命名",
    loginFailed: "登录失败",
    rateLimited: "尝试次数过多，请稍后再试。",
    tokenRejected: "令牌被拒绝或已过期，请重新登录。",
    configFailed: "无法读取页面配置。",
    error: "错误",
  },
};

const storageKey = "clawbot.language";

/** @type {Language} */
let current = initialLanguage();

/** @returns {Language} the stored choice, else the browser's language (Chinese for any zh-*), else English. */
function initialLanguage() {
  const stored = sessionStorage.getItem(storageKey);
  if (stored === "en" || stored === "zh") return stored;
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
}

/** @returns {Language} */
export function language() {
  return current;
}

/**
 * The text for `key` in the current language (English, then the key itself, when missing).
 * @param {string} key
 */
export function t(key) {
  return texts[current][key] ?? texts.en[key] ?? key;
}

/** @type {Set<() => void>} */
const listeners = new Set();

/**
 * Calls `listener` after every language change (for texts the page builds itself).
 * @param {() => void} listener
 */
export function onLanguageChange(listener) {
  listeners.add(listener);
}

/**
 * Switches the language, remembers it for this tab and re-labels the page.
 * @param {Language} next
 */
export function setLanguage(next) {
  current = next === "zh" ? "zh" : "en";
  sessionStorage.setItem(storageKey, current);
  applyTexts(document);
  for (const listener of listeners) listener();
}

/**
 * Fills every `data-i18n` element's text, `data-i18n-placeholder` placeholder and `data-i18n-label` aria-label.
 * @param {ParentNode} root
 */
export function applyTexts(root) {
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  for (const element of root.querySelectorAll("[data-i18n]")) element.textContent = t(/** @type {string} */ (element.getAttribute("data-i18n")));
  for (const element of root.querySelectorAll("[data-i18n-placeholder]")) element.setAttribute("placeholder", t(/** @type {string} */ (element.getAttribute("data-i18n-placeholder"))));
  for (const element of root.querySelectorAll("[data-i18n-label]")) element.setAttribute("aria-label", t(/** @type {string} */ (element.getAttribute("data-i18n-label"))));
}
