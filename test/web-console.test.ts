// The operator console at /console in Debian's Chromium against a real node: status panel, sparklines, policy editor, admin-only, Chinese on a phone.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SignJWT } from "jose";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasChromium, launchBrowser, openPage, screenshotPath } from "./helpers/browser.js";
import { startTestNode, testSecret, type TestNode } from "./helpers/test-node.js";

async function signed(subject: string, claims: Record<string, unknown>): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject(subject).setIssuedAt(now).setExpirationTime(now + 3600).sign(new TextEncoder().encode(testSecret));
}

const initialPolicy = "roles:\n  user: {gateways: [websocket, http]}\n  guest: {gateways: [http], max_tokens: 64}\n";

describe.skipIf(!hasChromium)("operator console (Chromium)", () => {
  let node: TestNode;
  let browser: Browser;
  let admin: string;
  let policyFile: string;

  beforeAll(async () => {
    policyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-web-console-")), "policy.yaml");
    fs.writeFileSync(policyFile, initialPolicy);
    node = await startTestNode({ agent: { engine: "echo" }, security: { policy_file: policyFile } });
    admin = await signed("ops-admin", { scope: "openid admin", roles: ["user"] });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await node?.close();
  });

  const chat = async (message: string) => {
    const response = await fetch(`${node.httpUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${await node.token("ward-nurse")}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: message }] }),
    });
    expect(response.status).toBe(200);
    await response.json();
  };

  const currentPolicy = async () => {
    const response = await fetch(`${node.httpUrl}/admin/policy`, { headers: { authorization: `Bearer ${admin}` } });
    return (await response.json()) as { digest: string; policy: { roles: Record<string, { max_tokens?: number }> } };
  };

  it("takes the token from the fragment and shows the node, its gateways, the audit head and live sparklines", async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${node.httpUrl}/console#token=${admin}`);
    await page.getByTestId("status-panel").waitFor();
    expect(page.url()).not.toContain("token=");
    await expect.poll(() => page.getByTestId("node-id").textContent()).toBe(os.hostname());
    const gateways = await page.getByTestId("gateway-list").textContent();
    expect(gateways).toContain("websocket");
    expect(gateways).toContain("http");
    const head = node.daemon.database.prepare("SELECT hash FROM audit_records ORDER BY sequence DESC LIMIT 1").get() as { hash: string };
    await expect.poll(() => page.getByTestId("audit-head").textContent()).toContain(head.hash.slice(0, 16));
    expect(await page.getByTestId("audit-status").textContent()).toBe("ok");

    for (let index = 0; index < 5; index += 1) await chat(`how busy is ward ${index}?`);
    // The rate shown is the newest sample's; after the traffic one sample is above zero, then the line has a peak.
    await expect.poll(async () => Number(await page.getByTestId("request-rate").locator(".metric-value").textContent()), { timeout: 15_000 }).toBeGreaterThan(0);
    for (const id of ["request-rate", "p99-latency", "tokens-per-second"]) {
      expect(await page.getByTestId(id).locator("svg path").getAttribute("d")).toMatch(/^M[\d.]+ [\d.]+/);
    }
    await expect.poll(() => page.getByTestId("p99-latency").locator(".metric-value").textContent()).toMatch(/^\d+ ms$/);
    expect(await page.getByTestId("queue-depth").textContent()).toMatch(/^0 \/ \d+$/);
    expect(await page.getByTestId("knowledge-list").textContent()).toContain("not enabled");
    await page.screenshot({ path: screenshotPath("console.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("edits the policy: a valid one is saved and in force, an invalid one is refused with the node's message and nothing changes", async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${node.httpUrl}/console#token=${admin}`);
    const editor = page.getByTestId("policy-editor");
    await expect.poll(() => editor.inputValue()).toContain('"guest"');
    expect(JSON.parse(await editor.inputValue())).toEqual((await currentPolicy()).policy);

    await editor.fill("roles:\n  user: {gateways: [websocket, http]}\n  guest: {gateways: [http], max_tokens: 32}\n");
    await page.getByTestId("policy-save").click();
    await expect.poll(() => page.getByTestId("policy-message").textContent()).toContain("Saved");
    const saved = await currentPolicy();
    expect(saved.policy.roles.guest?.max_tokens).toBe(32);
    expect(JSON.parse(await editor.inputValue())).toEqual(saved.policy);

    await editor.fill("roles:\n  guest: {gateways: [http], max_tokens: -5}\n");
    await page.getByTestId("policy-save").click();
    await expect.poll(() => page.getByTestId("policy-message").textContent()).toContain("Refused");
    expect(await page.getByTestId("policy-message").textContent()).toContain("max_tokens");
    expect((await currentPolicy()).digest).toBe(saved.digest);
    expect(errors.filter((error) => !error.includes("400"))).toEqual([]);
    await page.context().close();
  });

  it("says an admin token is needed for a token without the admin scope", async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${node.httpUrl}/console#token=${await node.token("ward-nurse")}`);
    await expect.poll(() => page.getByTestId("auth-message").textContent()).toContain("admin token");
    expect(await page.getByTestId("status-panel").isHidden()).toBe(true);
    await page.getByTestId("token-input").fill(admin);
    await page.getByTestId("token-submit").click();
    await page.getByTestId("status-panel").waitFor();
    expect(errors.filter((error) => !error.includes("403"))).toEqual([]);
    await page.context().close();
  });

  it("speaks Chinese on a zh-CN phone and fits its width", async () => {
    const { page, errors } = await openPage(browser, { phone: true, locale: "zh-CN" });
    await page.goto(`${node.httpUrl}/console#token=${admin}`);
    await page.getByTestId("status-panel").waitFor();
    expect(await page.locator(".node-card h2").textContent()).toBe("节点");
    await expect.poll(() => page.getByTestId("audit-status").textContent()).toBe("完好");
    const overflow = (await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")) as number;
    expect(overflow).toBeLessThanOrEqual(0);
    await page.getByTestId("language").selectOption("en");
    expect(await page.locator(".node-card h2").textContent()).toBe("Node");
    expect(errors).toEqual([]);
    await page.context().close();
  });
});
