// `npm run bench:widget`: the widget's size budgets and how fast it opens.
// Sizes are the built files in public/ (minified, then gzip -9), the dashboard's bundle too. Open time is measured in
// Debian's Chromium on a local host page that embeds the widget from the worker (workerd via
// Miniflare): from the click on the launcher to the focused, usable message box. "Prefetched"
// is the usual case (the loader fetched the panel while the page was idle); "cold" clicks before
// the panel script has been fetched. Writes bench/WIDGET_RESULTS.md.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "../scripts/build.mjs";
import { startStandIn } from "../tests/support/standin.mjs";
import { putAgent, startWorker, testKey } from "../tests/support/worker.mjs";
import { embedPage, hostSite, launch } from "../tests/support/browser.mjs";

const root = new URL("..", import.meta.url).pathname;
const RUNS = Number(process.env.RUNS || 20);
const BUDGET = { loader: 2 * 1024, total: 15 * 1024 };

function sizes() {
  const file = (name) => {
    const bytes = readFileSync(join(root, "public", name));
    return { name, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  };
  return ["widget.js", "chat-panel.js", "chat-panel.css"].map(file);
}

/** The dashboard's bundle and stylesheet (tenants load them; no visitor does). */
function dashboardSizes() {
  return ["admin/admin.js", "admin/admin.css"].map((name) => {
    const bytes = readFileSync(join(root, "public", name));
    return { name, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  });
}

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

/** Milliseconds from the launcher click to a focused message box, `RUNS` times. */
async function openTimes(browser, url, { prefetched }) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForFunction(() => document.querySelector("[data-edge-chat]")?.shadowRoot?.querySelector(".ec-fab"));
    if (prefetched) await page.waitForFunction(() => window.EdgeChatPanel);
    const ms = await page.evaluate(() => new Promise((resolve) => {
      const root = document.querySelector("[data-edge-chat]").shadowRoot;
      const start = performance.now();
      root.querySelector(".ec-fab").click();
      (function check() {
        const input = root.querySelector("textarea");
        if (input && root.activeElement === input && !root.querySelector(".ec-panel").hidden) resolve(performance.now() - start);
        else requestAnimationFrame(check);
      })();
    }));
    times.push(ms);
    await context.close();
  }
  return times;
}

async function main() {
  await build();
  const files = sizes();
  const loader = files[0].gzip;
  const dashboard = dashboardSizes();
  const total = files.reduce((sum, f) => sum + f.gzip, 0);
  const standin = await startStandIn();
  const worker = await startWorker({ OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "k" }, { assets: true });
  const host = await hostSite({ "/": embedPage(worker.url, testKey("bench")) });
  await putAgent(worker.db, { id: "bench", config: { model: "scenario/plain", allowedOrigins: [host.origin], welcomeMessage: "Hi!" } });
  const browser = await launch();
  let warm;
  let cold;
  try {
    warm = await openTimes(browser, `${host.origin}/`, { prefetched: true });
    cold = await openTimes(browser, `${host.origin}/`, { prefetched: false });
  } finally {
    await browser.close();
    await host.close();
    await worker.stop();
    await standin.close();
  }
  const kb = (n) => `${(n / 1024).toFixed(2)} KiB`;
  const ms = (v) => `${v.toFixed(1)} ms`;
  const lines = [
    "# Widget budgets",
    "",
    `Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench:widget\` (Debian Chromium, headless, loopback).`,
    "",
    "| file | minified | gzip -9 |",
    "|---|---|---|",
    ...files.map((f) => `| \`${f.name}\` | ${f.raw} B | ${f.gzip} B (${kb(f.gzip)}) |`),
    `| **total** | ${files.reduce((s, f) => s + f.raw, 0)} B | **${total} B (${kb(total)})** |`,
    "",
    `- Loader: ${loader} B gzip against a budget of ${BUDGET.loader} B: ${loader <= BUDGET.loader ? "within" : "OVER"}.`,
    `- Whole widget: ${total} B gzip against ${BUDGET.total} B: ${total <= BUDGET.total ? "within" : "OVER"}.`,
    "",
    "The dashboard (`/admin/`, ES modules per page bundled by esbuild; not part of the widget budget):",
    "",
    "| file | minified | gzip -9 |",
    "|---|---|---|",
    ...dashboard.map((f) => `| \`${f.name}\` | ${f.raw} B | ${f.gzip} B (${kb(f.gzip)}) |`),
    "",
    `Click on the launcher to a focused message box, ${RUNS} runs each:`,
    "",
    "| case | p50 | p95 | max |",
    "|---|---|---|---|",
    `| panel prefetched while idle (usual) | ${ms(percentile(warm, 50))} | ${ms(percentile(warm, 95))} | ${ms(Math.max(...warm))} |`,
    `| cold: panel fetched on the click | ${ms(percentile(cold, 50))} | ${ms(percentile(cold, 95))} | ${ms(Math.max(...cold))} |`,
    "",
    "The open time includes loading chat-panel.css and the agent's public config when they are not",
    "yet there; the budget is 100 ms.",
    "",
  ];
  const text = lines.join("\n");
  writeFileSync(join(root, "bench", "WIDGET_RESULTS.md"), text);
  console.log(`\n${text}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
