// Debian's Chromium driven by playwright-core, and host pages on their own loopback origin
// that embed the widget from the worker's origin. Screenshots of failed tests go to
// tests/artifacts/.
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { chromium } from "playwright-core";

const root = new URL("../..", import.meta.url).pathname;
export const ARTIFACTS = join(root, "tests", "artifacts");
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

/** Starts headless Chromium with the flags this sandbox needs (no network chatter, no sandbox as root). */
export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** Serves `pages` ({path: html}) on a free loopback port; returns its origin and `close`. */
export async function hostSite(pages) {
  const server = createServer((req, res) => {
    const html = pages[new URL(req.url, "http://x").pathname];
    if (html == null) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return { origin, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** A customer page embedding the widget script from `workerUrl`. */
export function embedPage(workerUrl, key, { body = "", head = "" } = {}) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Host shop</title>${head}</head>
<body><main><h1>Host shop</h1><p>Products and prices.</p>${body}</main>
<script src="${workerUrl}/widget.js" data-key="${key}" async></script></body></html>`;
}

/** Runs `fn(page)` in a fresh context; on failure saves a screenshot named after the test. */
export async function withPage(browser, name, fn, options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  try {
    await fn(page, errors);
  } catch (error) {
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, `${name.replace(/[^a-z0-9]+/gi, "-")}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    error.message += `\n(screenshot: ${file}; page errors: ${JSON.stringify(errors)})`;
    throw error;
  } finally {
    await context.close();
  }
}

/** A locator inside the launcher widget's shadow root (Playwright pierces open shadow roots). */
export const inWidget = (page, selector) => page.locator(`[data-edge-chat] ${selector}`);
