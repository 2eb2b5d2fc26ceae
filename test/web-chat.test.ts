// The web chat at `/` in a real browser (Debian Chromium via playwright-core) against real nodes: token and login, streaming, stop, sessions, citations, safety, languages, phone.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingest } from "../src/knowledge/ingest.js";
import { KnowledgeDatabase } from "../src/knowledge/knowledge-database.js";
import { TextSegmenter } from "../src/knowledge/text-segmenter.js";
import { hashPassword } from "../src/security/password-hash.js";
import { launchBrowser, openPage, screenshotPath } from "./helpers/browser.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

const assistantMessages = (page: Page) => page.locator('[data-testid="message"][data-role="assistant"]');
const lastAssistant = (page: Page) => assistantMessages(page).last();

/** Opens the chat with a token in the URL fragment and waits until it is connected. */
async function openChat(node: TestNode, options: { phone?: boolean; locale?: string } = {}) {
  const opened = await openPage(browser, options);
  await opened.page.goto(`${node.httpUrl}/#token=${await node.token()}`);
  await connected(opened.page);
  return opened;
}

async function connected(page: Page): Promise<void> {
  await page.locator('[data-testid="connection-state"][data-state="connected"]').waitFor();
}

/** Types a question and sends it with the Send button. */
async function ask(page: Page, question: string): Promise<void> {
  await page.getByTestId("message-input").fill(question);
  await page.getByTestId("send").click();
}

/** Waits until the newest assistant message has ended (done, stopped or error) and returns its state. */
async function answerEnded(page: Page): Promise<string | null> {
  await page.locator('[data-testid="message"][data-role="assistant"]:not([data-state="streaming"])').last().waitFor();
  return lastAssistant(page).getAttribute("data-state");
}

/**
 * Records the newest assistant message's state and text length at every DOM change of the conversation, so a test
 * can see the text while it streams (not only its end), whatever the timing.
 */
async function recordAnswer(page: Page): Promise<void> {
  // A script text: the tests compile without the DOM's types, and this runs in the page.
  await page.evaluate(`{
    const samples = (window.__samples = []);
    const messages = document.querySelector('[data-testid="messages"]');
    new MutationObserver(() => {
      const last = [...messages.querySelectorAll('[data-testid="message"][data-role="assistant"]')].at(-1);
      if (last) samples.push({ state: last.dataset.state, length: last.querySelector('[data-testid="message-body"]')?.textContent?.length ?? 0 });
    }).observe(messages, { subtree: true, childList: true, characterData: true, attributes: true });
  }`);
}

async function samples(page: Page): Promise<{ state: string | undefined; length: number }[]> {
  return (await page.evaluate("window.__samples")) as { state: string | undefined; length: number }[];
}

const zorblax = "Patient with zorblax syndrome was given 40 mg of quintaprine daily.";

/** A data directory whose knowledge base holds the collection `cases` (two jsonl records). */
async function knowledgeDataDir(): Promise<string> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-web-chat-"));
  const sources = path.join(directory, "cases.jsonl");
  const records = [{ id: "MR-0001", text: zorblax }, { id: "MR-0002", text: "Routine checkup: blood pressure normal, no medication." }];
  fs.writeFileSync(sources, records.map((record) => JSON.stringify(record)).join("\n") + "\n");
  const dataDir = path.join(directory, "data");
  fs.mkdirSync(dataDir, { mode: 0o700 });
  const database = KnowledgeDatabase.open(path.join(dataDir, "knowledge.db"), { segmenter: TextSegmenter.create() });
  try {
    await ingest(database, [sources], { collection: "cases", chunk: { maxTokens: 256, overlapTokens: 32 } });
  } finally {
    database.close();
  }
  return dataDir;
}

const password = "correct horse battery staple";
/** The built-in disclaimer plugin's text on the echo node: the page must show it at the end of every answer. */
const disclaimer = "本回复仅供参考，不构成医疗建议";

describe("web chat with the real test model", () => {
  let node: TestNode;

  beforeAll(async () => {
    // Answers of a few hundred tokens (the tiny model rarely stops on its own): time to see them stream and to stop one.
    node = await startTestNode({
      agent: { max_tokens: 400 },
      dataDir: await knowledgeDataDir(),
      knowledge: { enabled: true, top_k: 2 },
      auth: { users: [{ username: "alice", password_hash: await hashPassword(password), roles: ["user"] }] },
    });
  });

  afterAll(async () => {
    await node?.close();
  });

  it("takes the token from the fragment and removes it, streams an answer as it is generated, and ends it", async () => {
    const { page, errors } = await openChat(node);
    expect(page.url()).not.toContain("token");
    expect(page.url()).toBe(`${node.httpUrl}/`);
    await recordAnswer(page);
    await ask(page, "Once upon a time there was a little dog");
    await expect.poll(() => page.locator('[data-testid="message"][data-role="user"]').last().textContent()).toBe("Once upon a time there was a little dog");
    expect(await answerEnded(page)).toBe("done");
    const seen = await samples(page);
    const streamed = seen.filter((sample) => sample.state === "streaming" && sample.length > 0).map((sample) => sample.length);
    // Text was on screen before the finish, and it grew while the answer streamed.
    expect(streamed.length).toBeGreaterThan(1);
    expect(new Set(streamed).size).toBeGreaterThan(1);
    expect(Math.max(...streamed)).toBeLessThanOrEqual((await lastAssistant(page).getByTestId("message-body").textContent())?.length ?? 0);
    await expect.poll(() => page.getByTestId("send").isEnabled()).toBe(true);
    expect(await page.getByTestId("stop").isDisabled()).toBe(true);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("stops an answer: the partial text stays, the node cancels the request", async () => {
    const { page, errors } = await openChat(node);
    await page.getByTestId("new-chat").click();
    await ask(page, "The big bear went to the forest");
    const body = lastAssistant(page).getByTestId("message-body");
    await expect.poll(async () => ((await body.textContent()) ?? "").length).toBeGreaterThan(0);
    await page.getByTestId("stop").click();
    expect(await answerEnded(page)).toBe("stopped");
    const partial = (await body.textContent()) ?? "";
    expect(partial.length).toBeGreaterThan(0);
    await expect.poll(() => page.getByTestId("send").isEnabled()).toBe(true);
    // The node recorded the request as cancelled, well before its max_tokens.
    const record = lastRequestRecord(node);
    expect(record.outcome).toBe("cancelled");
    expect((record.tokens as { completion: number }).completion).toBeLessThan(400);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("after a reload the session is in the list, and clicking it shows its messages", async () => {
    const { page, errors } = await openChat(node);
    await page.getByTestId("new-chat").click();
    const question = `The cat and the moon ${Date.now()}`;
    await ask(page, question);
    expect(await answerEnded(page)).toBe("done");
    const answer = await lastAssistant(page).getByTestId("message-body").textContent();
    await page.reload();
    await connected(page);
    const entry = page.getByTestId("session-list").getByRole("button", { name: question });
    await entry.waitFor();
    // The reload resumed the session; starting a new one empties the view, and clicking the entry brings it back.
    await page.getByTestId("new-chat").click();
    await expect.poll(() => page.getByTestId("message").count()).toBe(0);
    await entry.click();
    await expect.poll(() => page.locator('[data-testid="message"][data-role="user"]').allTextContents()).toEqual([question]);
    await expect.poll(() => lastAssistant(page).getByTestId("message-body").textContent()).toBe(answer);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("logs in through the form (no token in the page) and answers", async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${node.httpUrl}/`);
    await page.getByTestId("token-input").waitFor();
    await page.getByTestId("login-username").fill("alice");
    await page.getByTestId("login-password").fill(password);
    await page.getByTestId("login-submit").click();
    await connected(page);
    expect(await page.getByTestId("auth-panel").isHidden()).toBe(true);
    await ask(page, "Lily found a red ball");
    expect(await answerEnded(page)).toBe("done");
    expect(((await lastAssistant(page).getByTestId("message-body").textContent()) ?? "").length).toBeGreaterThan(0);
    // The token the login got is kept for this tab only.
    const stored = (await page.evaluate('[sessionStorage.getItem("clawbot.token"), localStorage.length, document.cookie]')) as unknown[];
    expect(stored[0]).toMatch(/^eyJ/);
    expect(stored.slice(1)).toEqual([0, ""]);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("shows the knowledge base's sources under the answer; each opens its details", async () => {
    const { page, errors } = await openChat(node);
    await page.getByTestId("new-chat").click();
    await ask(page, "How much quintaprine for zorblax?");
    expect(await answerEnded(page)).toBe("done");
    const citation = lastAssistant(page).getByTestId("citation").first();
    await citation.waitFor();
    expect(await citation.textContent()).toContain("cases.jsonl");
    const details = lastAssistant(page).getByTestId("citation-details").first();
    expect(await details.isHidden()).toBe(true);
    await citation.click();
    await details.waitFor();
    expect(await details.textContent()).toContain("MR-0001");
    expect(await details.textContent()).toContain("cases");
    expect(await citation.getAttribute("aria-expanded")).toBe("true");
    // The documentation's picture (docs/img/web-chat.png is a copy): sessions, an answer, its source opened.
    await page.screenshot({ path: screenshotPath("web-chat.png") });
    expect(errors).toEqual([]);
    await page.context().close();
  });
});

describe("web chat with the echo engine (the answer is the question)", () => {
  let node: TestNode;

  beforeAll(async () => {
    // No clock tolerance, so a 2-second token really ends after 2 seconds.
    node = await startTestNode({ agent: { engine: "echo", max_tokens: 2048 }, dataDir: await knowledgeDataDir(), knowledge: { enabled: true, top_k: 1 }, auth: { clock_tolerance: 0 }, plugins: [{ builtin: "disclaimer", options: { text: disclaimer } }] });
  });

  afterAll(async () => {
    await node?.close();
  });

  it("renders HTML in the model's answer as text, runs none of it, and makes no javascript: link", async () => {
    const { page, errors } = await openChat(node);
    const hostile = '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=2"> [x](javascript:alert(1)) [ok](https://example.com/a)\n\n| a | b |\n|:-|-:|\n| 1 | 2 |';
    await ask(page, hostile);
    expect(await answerEnded(page)).toBe("done");
    const body = lastAssistant(page).getByTestId("message-body");
    const text = (await body.textContent()) ?? "";
    expect(text).toContain("<script>window.__pwned=1</script>");
    expect(text).toContain('<img src=x onerror="window.__pwned=2">');
    expect(await page.evaluate("window.__pwned")).toBeUndefined();
    expect(await page.locator("[data-testid='messages'] script, [data-testid='messages'] img").count()).toBe(0);
    expect(await page.locator("a[href^='javascript' i]").count()).toBe(0);
    const link = body.locator("a");
    expect(await link.count()).toBe(1);
    expect(await link.getAttribute("href")).toBe("https://example.com/a");
    expect(await link.getAttribute("rel")).toBe("noopener noreferrer");
    expect(await link.getAttribute("target")).toBe("_blank");
    // A table with alignment, rendered without style attributes (the CSP would refuse them, and log an error).
    expect(await body.locator("td.align-right").count()).toBe(1);
    expect(await body.locator("[style]").count()).toBe(0);
    expect(await page.locator('[data-testid="message"][data-role="user"]').last().textContent()).toBe(hostile);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("links the answer's [n] markers to their sources", async () => {
    const { page, errors } = await openChat(node);
    await ask(page, "How much quintaprine for zorblax?");
    expect(await answerEnded(page)).toBe("done");
    const marker = lastAssistant(page).getByTestId("citation-marker").first();
    await marker.waitFor();
    expect(await marker.textContent()).toBe("[1]");
    await marker.click();
    await lastAssistant(page).getByTestId("citation-details").first().waitFor();
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("shows Chinese labels for a zh-CN browser, and switches to English", async () => {
    const { page, errors } = await openChat(node, { locale: "zh-CN" });
    expect(await page.getByTestId("send").textContent()).toBe("发送");
    expect(await page.getByTestId("new-chat").textContent()).toBe("新对话");
    expect(await page.getByTestId("connection-state").textContent()).toBe("已连接");
    expect(await page.evaluate("document.documentElement.lang")).toBe("zh-CN");
    await ask(page, "你好，世界");
    expect(await answerEnded(page)).toBe("done");
    expect(await lastAssistant(page).getByTestId("message-body").textContent()).toContain("你好，世界");
    // What the plugin appended is shown, as the answer's last paragraph.
    expect(await lastAssistant(page).locator("[data-testid='message-body'] > p").last().textContent()).toBe(disclaimer);
    await page.getByTestId("language").selectOption("en");
    expect(await page.getByTestId("send").textContent()).toBe("Send");
    expect(await page.getByTestId("connection-state").textContent()).toBe("Connected");
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("works on a phone-sized screen: send, answer, sessions in a drawer", async () => {
    const { page, errors } = await openChat(node, { phone: true });
    const sidebar = page.locator("#sidebar");
    expect((await sidebar.boundingBox())?.x ?? 0).toBeLessThan(0);
    await ask(page, "Hello from a phone");
    expect(await answerEnded(page)).toBe("done");
    expect(await lastAssistant(page).getByTestId("message-body").textContent()).toContain("Hello from a phone");
    const input = await page.getByTestId("message-input").boundingBox();
    expect(input && input.x >= 0 && input.x + input.width <= 390 && input.y + input.height <= 844).toBe(true);
    await page.screenshot({ path: screenshotPath("web-chat-phone.png") });
    await page.getByTestId("sessions-toggle").click();
    await expect.poll(async () => (await sidebar.boundingBox())?.x).toBe(0);
    // Choosing a session closes the drawer; so does a tap beside it.
    await page.getByTestId("session-list").getByRole("button", { name: "Hello from a phone" }).click();
    await expect.poll(async () => (await sidebar.boundingBox())?.x ?? 0).toBeLessThan(0);
    await expect.poll(() => page.locator('[data-testid="message"][data-role="user"]').allTextContents()).toEqual(["Hello from a phone"]);
    await page.getByTestId("sessions-toggle").click();
    await expect.poll(async () => (await sidebar.boundingBox())?.x).toBe(0);
    await page.getByTestId("drawer-backdrop").click({ position: { x: 380, y: 400 } });
    await expect.poll(async () => (await sidebar.boundingBox())?.x ?? 0).toBeLessThan(0);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("goes back to the sign-in form when the node closes the connection with 4401 (token expired)", async () => {
    const opened = await openPage(browser);
    const { page, errors } = opened;
    await page.goto(`${node.httpUrl}/#token=${await node.token("alice", "2s")}`);
    await connected(page);
    await page.getByTestId("token-input").waitFor({ timeout: 15_000 });
    expect(await page.getByTestId("auth-error").textContent()).toContain("expired");
    expect(await page.evaluate('sessionStorage.getItem("clawbot.token")')).toBeNull();
    expect(errors).toEqual([]);
    await page.context().close();
  });
});

/** The newest request record of the node's audit ledger. */
function lastRequestRecord(node: TestNode): Record<string, unknown> {
  const row = node.daemon.database.prepare("SELECT body FROM audit_records WHERE kind = 'request' ORDER BY sequence DESC LIMIT 1").get() as { body: string };
  return JSON.parse(row.body) as Record<string, unknown>;
}
