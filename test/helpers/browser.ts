// Debian's Chromium driven by playwright-core for the web page tests: headless, --no-sandbox as root, one browser per test file.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";

/** Where Debian's chromium package puts the browser (CLAWBOT_CHROMIUM overrides it). */
export function chromiumPath(): string | undefined {
  const candidates = [process.env.CLAWBOT_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"].filter((candidate): candidate is string => !!candidate);
  return candidates.find((candidate) => fs.existsSync(candidate));
}

/** Whether the browser tests can run here; in CI (env CI set) a missing Chromium fails them instead. */
export const hasChromium = chromiumPath() !== undefined || !!process.env.CI;

export async function launchBrowser(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error("Chromium is not installed: apt-get install chromium (or set CLAWBOT_CHROMIUM)");
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  return chromium.launch({ executablePath, headless: true, args: root ? ["--no-sandbox"] : [] });
}

/** A page with a phone-sized or desktop viewport; console errors and page errors collected for the test to check. */
export async function openPage(browser: Browser, options: { phone?: boolean; locale?: string } = {}): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({
    viewport: options.phone ? { width: 390, height: 844 } : { width: 1280, height: 800 },
    locale: options.locale ?? "en-US",
    ...(options.phone ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()}`);
  });
  return { page, errors };
}

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Where a test run's screenshots go (`test-output/screenshots/`, ignored by git); docs/img/ holds the committed ones. */
export function screenshotPath(name: string): string {
  const directory = path.join(repositoryRoot, "test-output", "screenshots");
  fs.mkdirSync(directory, { recursive: true });
  return path.join(directory, name);
}
