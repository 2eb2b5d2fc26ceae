// The console's labels in English and Chinese: chosen from navigator.language, switchable, the choice kept in localStorage.

const storageKey = "clawbot.console.language";

const texts = {
  en: {
    console: "Operator console",
    signOut: "Sign out",
    adminToken: "Admin token",
    tokenHint: "Paste a token whose scope holds admin.",
    tokenPlaceholder: "eyJhbGciOi…",
    useToken: "Use token",
    signIn: "Sign in",
    username: "User name",
    password: "Password",
    node: "Node",
    nodeId: "Node id",
    state: "State",
    model: "Model",
    engine: "Engine",
    sequences: "Free / parallel sequences",
    queueDepth: "Queue depth",
    uptime: "Uptime",
    version: "Version",
    traffic: "Traffic",
    requestRate: "Requests / s",
    p99: "P99 latency",
    tokensPerSecond: "Tokens / s",
    cluster: "Cluster",
    freeTotal: "Free / total",
    queued: "Queued",
    memory: "Memory",
    gateways: "Gateways",
    audit: "Audit chain",
    verified: "Verified up to",
    head: "Head",
    knowledge: "Knowledge base",
    policy: "Policy",
    save: "Save",
    reload: "Reload",
    ready: "ready",
    notReady: "not ready",
    alive: "alive",
    gone: "gone",
    primary: "primary",
    healthy: "healthy",
    unhealthy: "unhealthy",
    connections: (count) => `${count} connection${count === 1 ? "" : "s"}`,
    refused: (count) => `${count} frames refused`,
    abnormal: (count) => `${count} abnormal closes`,
    auditOk: "ok",
    auditBroken: (sequence) => `broken at ${sequence}`,
    auditOff: "off (audit.enabled: false)",
    sequence: (sequence) => `sequence ${sequence}`,
    knowledgeOff: "The knowledge base is not enabled.",
    knowledgeEmpty: "No collections yet.",
    collection: (documents, chunks) => `${documents} documents · ${chunks} chunks`,
    noGateways: "No gateways.",
    noPolicy: "No policy file (security.policy_file is not set): nothing to edit.",
    policyFrom: (origin, digest) => `${origin} · SM3 ${digest.slice(0, 12)}…`,
    policySaved: "Saved: the new policy is in force.",
    policyRefused: (message) => `Refused: ${message}`,
    policyChanged: "The policy changed on the node; Reload to see it.",
    window: (seconds, points) => `Every ${seconds} s · last ${points} samples`,
    updated: (time) => `updated ${time}`,
    offline: "cannot reach the node",
    needsAdmin: "This needs an admin token: the token given has no admin scope.",
    tokenRefused: "The token was refused (expired, revoked or not for this node). Give another.",
    loginFailed: (message) => `Sign-in failed: ${message}`,
    clusterSummary: (name, leader, connected) => `${name} · leader ${leader ?? "none"} · NATS ${connected ? "connected" : "disconnected"}`,
    noData: "–",
  },
  zh: {
    console: "运维控制台",
    signOut: "退出",
    adminToken: "管理员令牌",
    tokenHint: "粘贴带有 admin 权限范围的令牌。",
    tokenPlaceholder: "eyJhbGciOi…",
    useToken: "使用令牌",
    signIn: "登录",
    username: "用户名",
    password: "密码",
    node: "节点",
    nodeId: "节点 ID",
    state: "状态",
    model: "模型",
    engine: "引擎",
    sequences: "空闲 / 并行序列",
    queueDepth: "队列深度",
    uptime: "运行时间",
    version: "版本",
    traffic: "流量",
    requestRate: "每秒请求数",
    p99: "P99 延迟",
    tokensPerSecond: "每秒令牌数",
    cluster: "集群",
    freeTotal: "空闲 / 总数",
    queued: "排队",
    memory: "内存",
    gateways: "网关",
    audit: "审计链",
    verified: "已验证至",
    head: "链头",
    knowledge: "知识库",
    policy: "策略",
    save: "保存",
    reload: "重新载入",
    ready: "就绪",
    notReady: "未就绪",
    alive: "在线",
    gone: "离线",
    primary: "主节点",
    healthy: "正常",
    unhealthy: "异常",
    connections: (count) => `${count} 个连接`,
    refused: (count) => `拒绝帧 ${count}`,
    abnormal: (count) => `异常断开 ${count}`,
    auditOk: "完好",
    auditBroken: (sequence) => `在 ${sequence} 处断裂`,
    auditOff: "未启用（audit.enabled: false）",
    sequence: (sequence) => `序号 ${sequence}`,
    knowledgeOff: "知识库未启用。",
    knowledgeEmpty: "还没有集合。",
    collection: (documents, chunks) => `${documents} 篇文档 · ${chunks} 个分块`,
    noGateways: "没有网关。",
    noPolicy: "没有策略文件（未设置 security.policy_file），无可编辑内容。",
    policyFrom: (origin, digest) => `${origin} · SM3 ${digest.slice(0, 12)}…`,
    policySaved: "已保存：新策略已生效。",
    policyRefused: (message) => `被拒绝：${message}`,
    policyChanged: "节点上的策略已变更，点击“重新载入”查看。",
    window: (seconds, points) => `每 ${seconds} 秒 · 最近 ${points} 个采样`,
    updated: (time) => `更新于 ${time}`,
    offline: "无法连接节点",
    needsAdmin: "此页面需要管理员令牌：所给令牌没有 admin 权限范围。",
    tokenRefused: "令牌被拒绝（已过期、已吊销或不属于此节点），请换一个。",
    loginFailed: (message) => `登录失败：${message}`,
    clusterSummary: (name, leader, connected) => `${name} · 主节点 ${leader ?? "无"} · NATS ${connected ? "已连接" : "未连接"}`,
    noData: "–",
  },
};

let language = initialLanguage();

function initialLanguage() {
  const saved = localStorage.getItem(storageKey);
  if (saved === "en" || saved === "zh") return saved;
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
}

/** @returns {"en" | "zh"} */
export function currentLanguage() {
  return language;
}

/** @param {"en" | "zh"} next */
export function setLanguage(next) {
  language = next === "zh" ? "zh" : "en";
  localStorage.setItem(storageKey, language);
  applyStaticTexts();
}

/**
 * The text for `key` in the current language (a function's result when the text takes values).
 * @param {keyof typeof texts.en} key
 * @param {...unknown} values
 * @returns {string}
 */
export function text(key, ...values) {
  const entry = texts[language][key] ?? texts.en[key];
  return typeof entry === "function" ? entry(...values) : String(entry ?? key);
}

/** Fills every element marked data-i18n (its text) or data-i18n-placeholder, and the page's lang. */
export function applyStaticTexts() {
  document.documentElement.lang = language === "zh" ? "zh-CN" : "en";
  for (const element of document.querySelectorAll("[data-i18n]")) element.textContent = text(element.getAttribute("data-i18n"));
  for (const element of document.querySelectorAll("[data-i18n-placeholder]")) element.setAttribute("placeholder", text(element.getAttribute("data-i18n-placeholder")));
}
