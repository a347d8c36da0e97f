// The embeddable widget in a real browser: Debian's Chromium (playwright-core) opens host pages
// served from their own origin, which embed the widget from the worker's origin (workerd via
// Miniflare, real D1, the built static assets, the local model stand-in).
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { startStandIn } from "../support/standin.mjs";
import { putAgent, startWorker, testKey } from "../support/worker.mjs";
import { embedPage, hostSite, inWidget, launch, withPage } from "../support/browser.mjs";

const root = new URL("../..", import.meta.url).pathname;
let standin;
let worker;
let host;
let stranger;
let browser;
const IDENTITY = "idsec_browser_test";

const agent = (model, extra = {}) => ({
  name: "Shop assistant",
  systemPrompt: "You help shoppers.",
  model,
  welcomeMessage: "Hi! Ask me about our products.",
  starterPrompts: ["Where is my order?", "Do you ship abroad?"],
  branding: { title: "Shop help", primaryColor: "#0f766e" },
  ...extra,
});

before(async () => {
  standin = await startStandIn();
  worker = await startWorker({ OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "k" }, { assets: true });
  const pages = (key, extra) => embedPage(worker.url, testKey(key), extra);
  host = await hostSite({
    "/plain": pages("shop"),
    "/paced": pages("paced"),
    "/long": pages("long"),
    "/xss": pages("xss", { head: "<script>window.__dialogs = 0; window.alert = () => window.__dialogs++;</script>" }),
    "/cited": pages("cited"),
    "/knowing": pages("knowing"),
    "/failing": pages("failing"),
    "/arabic": pages("arabic"),
    "/members": pages("members"),
    "/tooly": pages("tooly"),
    "/slow": pages("slow"),
    "/listy": pages("listy"),
    "/bright": pages("bright"),
    "/longy": pages("longy"),
    "/inline-dark": `<!doctype html><html lang="en"><head><title>Dark help</title></head><body style="background:#101418;color:#eee"><h1>Help</h1>
      <chat-widget key="${testKey("shop")}" style="height:500px"></chat-widget>
      <script src="${worker.url}/widget.js" async></script></body></html>`,
    "/panel-only": `<!doctype html><html lang="en"><head><title>Panel</title></head><body><h1>Panel</h1><div id="slot"></div>
      <script src="${worker.url}/chat-panel.js"></script></body></html>`,
    "/inline": `<!doctype html><html lang="en"><head><title>Help</title></head><body><h1>Help</h1>
      <chat-widget key="${testKey("shop")}" style="height:500px"></chat-widget>
      <script src="${worker.url}/widget.js" async></script></body></html>`,
  });
  stranger = await hostSite({
    "/plain": pages("shop"),
    "/inline": `<!doctype html><html lang="en"><head><title>Help</title></head><body><h1>Help</h1>
      <chat-widget key="${testKey("shop")}" style="height:500px"></chat-widget>
      <script src="${worker.url}/widget.js" async></script></body></html>`,
  });
  const allowed = [host.origin];
  await putAgent(worker.db, { id: "shop", config: agent("scenario/plain", { allowedOrigins: allowed }) });
  await putAgent(worker.db, { id: "paced", config: agent("scenario/bench/24/60", { allowedOrigins: allowed }) });
  await putAgent(worker.db, { id: "long", config: agent("scenario/bench/400/40", { allowedOrigins: allowed }) });
  await putAgent(worker.db, { id: "xss", config: agent("scenario/xss", { allowedOrigins: allowed }) });
  await putAgent(worker.db, { id: "cited", config: agent("scenario/cited", { allowedOrigins: allowed }) });
  await putAgent(worker.db, { id: "failing", config: agent("scenario/unauthorized", { allowedOrigins: allowed }) });
  await putAgent(worker.db, { id: "members", tenant: "t_members", identitySecret: IDENTITY, config: agent("scenario/plain", { allowedOrigins: allowed, requireVerifiedUser: true }) });
  await putAgent(worker.db, { id: "tooly", config: agent("scenario/tool", { allowedOrigins: allowed, tools: { builtin: ["get_current_time"], webhooks: [] } }) });
  await putAgent(worker.db, { id: "slow", config: agent("scenario/slow-first-token", { allowedOrigins: allowed }) });
  await putAgent(worker.db, { id: "listy", config: agent("scenario/list-hold", { allowedOrigins: allowed }) });
  await putAgent(worker.db, { id: "bright", config: agent("scenario/plain", { allowedOrigins: allowed, branding: { title: "Sunny", primaryColor: "#fde047" } }) });
  await putAgent(worker.db, { id: "longy", config: agent("scenario/bench/400/0", { allowedOrigins: allowed }) });
  await putAgent(worker.db, { id: "arabic", config: agent("scenario/plain", { allowedOrigins: allowed, locale: "ar" }) });
  await putAgent(worker.db, { id: "knowing", config: agent("scenario/plain", { allowedOrigins: allowed, knowledge: { bases: ["kb_browser"] } }) });
  // A knowledge base with one ready text chunk, put straight into D1 (keyword search only).
  await worker.db.prepare("INSERT INTO knowledge_bases (id, tenant_id, name, created_at, updated_at) VALUES ('kb_browser', 't_test', 'Help', 1, 1)").run();
  await worker.db.prepare("INSERT INTO knowledge_sources (id, tenant_id, base_id, kind, title, content, status, progress, chunk_count, created_at, updated_at) VALUES ('src_browser', 't_test', 'kb_browser', 'text', 'Store policy', 'x', 'ready', 100, 1, 1, 1)").run();
  await worker.db.prepare("INSERT INTO knowledge_chunks (id, tenant_id, base_id, source_id, kind, title, heading, text) VALUES ('chk_browser', 't_test', 'kb_browser', 'src_browser', 'text', 'Store policy', 'Returns', 'Returns are accepted within 30 days at any of our stores.')").run();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await host?.close();
  await stranger?.close();
  await worker?.stop();
  await standin?.close();
});

/** Opens the launcher widget on `path` and waits for the panel. */
async function openWidget(page, path, origin = host.origin) {
  await page.goto(`${origin}${path}`);
  await inWidget(page, "button.ec-fab").click();
  await inWidget(page, ".ec-panel:not([hidden])").waitFor();
}

async function sendMessage(page, text) {
  await inWidget(page, "textarea").fill(text);
  await inWidget(page, "textarea").press("Enter");
}

/** Waits until the last answer is finished (its rating buttons appear). */
const answered = (page, count = 1) => inWidget(page, ".ec-assistant .ec-actions").nth(count - 1).waitFor({ timeout: 15_000 });
const lastAnswer = (page) => inWidget(page, ".ec-assistant .ec-bubble").last();

describe("embedded widget", () => {
  test("opens, streams an answer as it grows, keeps history across reloads, starts a new conversation empty", async () => {
    await withPage(browser, "stream-history-new", async (page) => {
      await openWidget(page, "/paced");
      assert.equal(await inWidget(page, ".ec-title").textContent(), "Shop help");
      assert.equal(await inWidget(page, ".ec-starter").count(), 2);
      assert.equal(await page.evaluate(() => document.querySelector("[data-edge-chat]").shadowRoot.activeElement?.tagName), "TEXTAREA", "focus moves into the panel");
      await sendMessage(page, "Tell me about tents");
      const lengths = new Set();
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        const text = (await lastAnswer(page).textContent().catch(() => "")) ?? "";
        if (text) lengths.add(text.length);
        if ((await inWidget(page, ".ec-assistant .ec-actions").count()) > 0) break;
        await page.waitForTimeout(40);
      }
      assert.ok(lengths.size >= 4, `the answer grew while streaming (lengths seen: ${[...lengths]})`);
      assert.equal((await lastAnswer(page).textContent()).trim(), "tok ".repeat(24).trim());
      const sent = standin.requests.at(-1).body.messages[0].content;
      assert.match(sent, /title: Host shop/, "the page title reaches the model as context");
      assert.match(sent, new RegExp(`url: ${host.origin}/paced`));

      await inWidget(page, ".ec-rate[aria-label='Helpful']").click();
      await assertEventually(async () => (await worker.db.prepare("SELECT feedback FROM messages WHERE role = 'assistant' AND feedback IS NOT NULL").all()).results.length === 1);
      assert.equal(await inWidget(page, ".ec-rate[aria-label='Helpful']").getAttribute("aria-pressed"), "true");

      await page.reload();
      await inWidget(page, "button.ec-fab").click();
      await inWidget(page, ".ec-user").first().waitFor();
      assert.equal(await inWidget(page, ".ec-user .ec-bubble").textContent(), "Tell me about tents");
      assert.equal((await lastAnswer(page).textContent()).trim(), "tok ".repeat(24).trim());
      assert.equal(await inWidget(page, ".ec-rate[aria-label='Helpful']").getAttribute("aria-pressed"), "true", "feedback is kept");
      assert.equal(await inWidget(page, ".ec-starter").count(), 0, "no starters once the conversation has begun");

      await inWidget(page, ".ec-header button[aria-label='New conversation']").click();
      assert.equal(await inWidget(page, ".ec-user").count(), 0);
      assert.equal(await inWidget(page, ".ec-assistant").count(), 1, "only the welcome message");
      assert.equal(await inWidget(page, ".ec-starter").count(), 2);
      await page.reload();
      await inWidget(page, "button.ec-fab").click();
      await page.waitForTimeout(300);
      assert.equal(await inWidget(page, ".ec-user").count(), 0, "the new conversation survives a reload");
    });
  });

  test("a model answer full of XSS payloads renders as inert text", async () => {
    await withPage(browser, "xss", async (page) => {
      await openWidget(page, "/xss");
      await sendMessage(page, "show me html");
      await answered(page);
      await page.waitForTimeout(200);
      const bubble = lastAnswer(page);
      assert.equal(await page.evaluate(() => window.__xss), undefined, "no payload ran");
      assert.equal(await page.evaluate(() => window.__dialogs), 0);
      for (const tag of ["img", "script", "iframe", "svg", "b"]) {
        assert.equal(await bubble.locator(tag).count(), 0, `no <${tag}> from the answer`);
      }
      const text = await bubble.textContent();
      assert.match(text, /<img src=x onerror=/, "markup shows as text");
      const links = await bubble.locator("a").evaluateAll((as) => as.map((a) => [a.textContent, a.href, a.rel, a.target]));
      assert.deepEqual(links, [["ok", "https://safe.example/page", "noopener noreferrer", "_blank"]], "only the https link is a link");
      assert.equal(await bubble.locator("strong").count(), 1, await bubble.innerHTML());
      assert.equal(await bubble.locator("pre code").count(), 1);
      assert.equal(await bubble.locator("li").count(), 2);
    });
  });

  test("knowledge citations show as numbered cards that open the quoted passage, also after a reload", async () => {
    await withPage(browser, "knowledge-cards", async (page) => {
      await openWidget(page, "/knowing");
      await sendMessage(page, "Can I return things within 30 days?");
      await answered(page);
      const card = inWidget(page, ".ec-sources ol li details.ec-doc");
      assert.equal(await card.count(), 1);
      assert.equal(await card.locator("summary").textContent(), "Store policy");
      assert.equal(await card.locator("blockquote").isVisible(), false, "the passage opens on demand");
      await card.locator("summary").click();
      assert.match(await card.locator("blockquote").textContent(), /within 30 days/);
      await page.reload();
      await inWidget(page, "button.ec-fab").click();
      await inWidget(page, ".ec-sources details.ec-doc").waitFor({ timeout: 10_000 });
      assert.equal(await inWidget(page, ".ec-sources details.ec-doc summary").textContent(), "Store policy", "the stored answer keeps its citation");
    });
  });

  test("citations from the stream become links; stop and retry work", async () => {
    await withPage(browser, "citations-stop-retry", async (page) => {
      await openWidget(page, "/cited");
      await sendMessage(page, "returns?");
      await answered(page);
      const sources = inWidget(page, ".ec-sources a");
      assert.equal(await sources.count(), 1);
      assert.equal(await sources.getAttribute("href"), "https://shop.example/returns");
      assert.equal(await sources.textContent(), "Returns policy");

      await openWidget(page, "/long");
      await sendMessage(page, "a long story");
      await inWidget(page, ".ec-stop:not([hidden])").waitFor();
      await page.waitForFunction(() => document.querySelector("[data-edge-chat]").shadowRoot.querySelector(".ec-assistant:last-child .ec-bubble")?.textContent.length > 20);
      await inWidget(page, ".ec-stop").click();
      await inWidget(page, ".ec-note").waitFor();
      assert.equal(await inWidget(page, ".ec-note").textContent(), "Stopped.");
      assert.equal(await inWidget(page, ".ec-send").isVisible(), true);

      await openWidget(page, "/failing");
      const before = standin.requests.length;
      await sendMessage(page, "hello?");
      // The failure shows where the answer would have been, with Retry inside the same box.
      await inWidget(page, ".ec-log .ec-failed .ec-retry").waitFor();
      assert.match(await inWidget(page, ".ec-log .ec-failed").textContent(), /AI service/);
      assert.equal(await inWidget(page, ".ec-log .ec-failed").getAttribute("role"), "alert");
      assert.equal(await inWidget(page, ".ec-status .ec-retry").count(), 0, "no Retry far below in the status line");
      const colors = await inWidget(page, ".ec-log .ec-failed").evaluate((el) => [getComputedStyle(el).color, getComputedStyle(el).borderTopColor]);
      assert.deepEqual(colors, ["rgb(180, 35, 24)", "rgb(180, 35, 24)"], "styled as an error, not grey text");
      await inWidget(page, ".ec-retry").click();
      await assertEventually(() => standin.requests.length >= before + 2);
    });
  });

  test("on a site that is not allowed, visitors see no launcher and the console names the origin to allow", async () => {
    await withPage(browser, "disallowed-origin", async (page, errors) => {
      const warnings = [];
      page.on("console", (m) => { if (m.type() === "warning") warnings.push(m.text()); });
      await page.goto(`${stranger.origin}/plain`);
      await assertEventually(() => warnings.some((w) => w.includes("Edge Agent Chat")));
      assert.equal(await page.locator("[data-edge-chat]").isVisible(), false, "no launcher for visitors");
      assert.equal(await inWidget(page, "button.ec-fab").isVisible(), false);
      const warning = warnings.find((w) => w.includes("Edge Agent Chat"));
      assert.ok(warning.includes(`Add ${stranger.origin} to`), warning);
      assert.deepEqual(errors, []);
    });
  });

  test("an inline chat on a site that is not allowed says so in the panel, and logs the origin", async () => {
    await withPage(browser, "disallowed-inline", async (page) => {
      const warnings = [];
      page.on("console", (m) => { if (m.type() === "warning") warnings.push(m.text()); });
      await page.goto(`${stranger.origin}/inline`);
      await page.locator("chat-widget .ec-failed").waitFor();
      assert.equal(await page.locator("chat-widget .ec-failed").textContent(), "This chat is not available on this website.");
      assert.equal(await page.locator("chat-widget .ec-composer").isVisible(), false);
      await assertEventually(() => warnings.some((w) => w.includes(stranger.origin)));
    });
  });

  test("works with the keyboard alone, and axe finds no serious violations", async () => {
    await withPage(browser, "keyboard-axe", async (page) => {
      await page.goto(`${host.origin}/plain`);
      await page.locator("[data-edge-chat]").waitFor({ state: "attached" });
      const focusedLabel = () => page.evaluate(() => {
        const a = document.activeElement;
        return (a?.shadowRoot?.activeElement ?? a)?.getAttribute("aria-label") ?? a?.tagName;
      });
      for (let i = 0; i < 5 && (await focusedLabel()) !== "Open chat"; i++) await page.keyboard.press("Tab");
      assert.equal(await focusedLabel(), "Open chat");
      await page.keyboard.press("Enter");
      await inWidget(page, ".ec-panel:not([hidden])").waitFor();
      assert.equal(await inWidget(page, "button.ec-fab").getAttribute("aria-expanded"), "true");
      await page.keyboard.type("Hello by keyboard");
      await page.keyboard.press("Enter");
      await answered(page);
      assert.equal(await inWidget(page, ".ec-sr[aria-live='polite']").textContent(), "Hello from the stand-in.", "the answer is announced");

      await page.addScriptTag({ content: readFileSync(`${root}/node_modules/axe-core/axe.min.js`, "utf8") });
      const violations = await page.evaluate(async () => {
        const result = await window.axe.run(document, { resultTypes: ["violations"] });
        return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
      });
      assert.deepEqual(violations, []);

      await page.keyboard.press("Escape");
      await inWidget(page, ".ec-panel[hidden]").waitFor({ state: "attached" });
      assert.equal(await focusedLabel(), "Open chat", "focus returns to the launcher");
    });
  });

  test("inline <chat-widget>, the host page API and its events", async () => {
    await withPage(browser, "inline-api", async (page) => {
      await page.goto(`${host.origin}/inline`);
      const inline = (sel) => page.locator(`chat-widget ${sel}`);
      await inline(".ec-panel").waitFor();
      await inline("textarea").fill("inline hello");
      await inline("textarea").press("Enter");
      await inline(".ec-actions").waitFor();
      assert.equal((await inline(".ec-assistant .ec-bubble").last().textContent()).trim(), "Hello from the stand-in.");

      await page.goto(`${host.origin}/plain`);
      await page.waitForFunction(() => window.EdgeChat && window.EdgeChat.open);
      const events = await page.evaluate(async () => {
        const seen = [];
        ["open", "close", "message"].forEach((name) => window.EdgeChat.on(name, (d) => seen.push(name + (d && d.role ? ":" + d.role : ""))));
        await window.EdgeChat.open();
        await window.EdgeChat.setContext({ plan: "gold" });
        return seen;
      });
      assert.deepEqual(events, ["open"]);
      // Same site, same agent: the inline conversation is already there.
      assert.equal(await inWidget(page, ".ec-user .ec-bubble").first().textContent(), "inline hello");
      await sendMessage(page, "with context");
      await answered(page, 2);
      assert.match(standin.requests.at(-1).body.messages[0].content, /plan: gold/);
      const later = await page.evaluate(async () => {
        const seen = [];
        window.EdgeChat.on("close", () => seen.push("close"));
        await window.EdgeChat.close();
        return seen;
      });
      assert.deepEqual(later, ["close"]);
    });
  });

  test("the conversation follows the visitor across tabs", async () => {
    const context = await browser.newContext();
    try {
      const [a, b] = [await context.newPage(), await context.newPage()];
      await openWidget(a, "/plain");
      await openWidget(b, "/plain");
      await sendMessage(a, "asked in tab A");
      await answered(a);
      await inWidget(b, ".ec-user").first().waitFor({ timeout: 5000 });
      assert.equal(await inWidget(b, ".ec-user .ec-bubble").first().textContent(), "asked in tab A");
      await inWidget(b, ".ec-header button[aria-label='New conversation']").click();
      await a.waitForFunction(() => !document.querySelector("[data-edge-chat]").shadowRoot.querySelector(".ec-user"));
    } finally {
      await context.close();
    }
  });

  test("identify() signs in a verified user; without it a members-only agent refuses", async () => {
    await withPage(browser, "identify", async (page) => {
      await openWidget(page, "/members");
      await sendMessage(page, "am I in?");
      await inWidget(page, ".ec-failed").waitFor();
      assert.match(await inWidget(page, ".ec-failed").textContent(), /signed-in users/);
      const userHash = createHmac("sha256", IDENTITY).update("user-7").digest("hex");
      await page.evaluate((hash) => window.EdgeChat.identify({ userId: "user-7", userHash: hash, name: "Ada" }), userHash);
      await sendMessage(page, "now?");
      await answered(page);
      assert.match(standin.requests.at(-1).body.messages[0].content, /userName: Ada/);
      const owner = await worker.db.prepare("SELECT visitor_id FROM conversations WHERE agent_id = 'members'").first();
      assert.equal(owner.visitor_id, "u:user-7");
      const wrong = await page.evaluate(() => window.EdgeChat.identify({ userId: "user-8", userHash: "00" }).then(() => "ok", (e) => e.message));
      assert.match(wrong, /could not be verified/);
    });
  });

  test("after a long answer the thumbs row is scrolled into view", async () => {
    await withPage(browser, "thumbs-in-view", async (page) => {
      await openWidget(page, "/longy");
      await sendMessage(page, "tell me everything");
      await answered(page);
      const seen = await page.evaluate(() => {
        const root = document.querySelector("[data-edge-chat]").shadowRoot;
        const log = root.querySelector(".ec-log");
        const actions = [...root.querySelectorAll(".ec-actions")].at(-1);
        const l = log.getBoundingClientRect();
        const a = actions.getBoundingClientRect();
        return { overflow: log.scrollHeight > log.clientHeight, inView: a.bottom <= l.bottom + 1 && a.top >= l.top };
      });
      assert.ok(seen.overflow, "the answer is longer than the log");
      assert.ok(seen.inView, "the rating buttons are visible without scrolling");
    });
  });

  test("a visitor never reads internal tool names; the typing indicator sits in the conversation", async () => {
    await withPage(browser, "tool-names-typing", async (page) => {
      await openWidget(page, "/tooly");
      await sendMessage(page, "what time is it?");
      await answered(page);
      const notes = await inWidget(page, ".ec-tool").allTextContents();
      assert.ok(notes.length >= 1, "the tool call is mentioned");
      for (const note of notes) assert.doesNotMatch(note, /get_current_time|_/, note);
      assert.doesNotMatch(await inWidget(page, ".ec-log").textContent(), /get_current_time/);

      await openWidget(page, "/slow");
      await sendMessage(page, "hello?");
      const typing = inWidget(page, ".ec-log .ec-typing");
      await typing.waitFor();
      assert.equal(await page.evaluate(() => document.querySelector("[data-edge-chat]").shadowRoot.querySelector(".ec-log").lastElementChild.classList.contains("ec-typing")), true, "the dots are the conversation's last row");
      assert.equal(await inWidget(page, ".ec-status .ec-dots").count(), 0, "not by the input");
      await answered(page);
      assert.equal(await typing.count(), 0, "gone once the answer is there");
    });
  });

  test("Stop during a half-streamed list leaves no empty bullet; snake_case stays text", async () => {
    await withPage(browser, "half-list", async (page) => {
      await openWidget(page, "/listy");
      await sendMessage(page, "steps?");
      await page.waitForFunction(() => document.querySelector("[data-edge-chat]").shadowRoot.querySelector(".ec-assistant:last-of-type li"));
      await inWidget(page, ".ec-stop").click();
      await inWidget(page, ".ec-note").waitFor();
      const items = await lastAnswer(page).locator("li").allTextContents();
      assert.deepEqual(items, ["one"], "no empty bullet");
      assert.match(await lastAnswer(page).textContent(), /my_tool_name/);
      assert.deepEqual(await lastAnswer(page).locator("em").allTextContents(), ["this"]);
    });
  });

  test("the launcher becomes the close button while open; screen readers hear text, not Markdown", async () => {
    await withPage(browser, "launcher-close-sr", async (page) => {
      await openWidget(page, "/cited");
      const fab = inWidget(page, "button.ec-fab");
      assert.equal(await fab.getAttribute("aria-label"), "Close chat");
      assert.equal(await fab.locator("svg.x").isVisible(), true, "it shows a cross");
      await sendMessage(page, "returns?");
      await answered(page);
      await assertEventually(async () => (await inWidget(page, ".ec-sr[aria-live='polite']").textContent()) !== "");
      const spoken = await inWidget(page, ".ec-sr[aria-live='polite']").textContent();
      assert.equal(spoken, "Our return window is 30 days [1].");
      await fab.click();
      await inWidget(page, ".ec-panel[hidden]").waitFor({ state: "attached" });
      assert.equal(await fab.getAttribute("aria-label"), "Open chat");
      assert.equal(await fab.locator("svg.x").isVisible(), false);
    });
  });

  test("header text stays readable on a light primary colour", async () => {
    await withPage(browser, "contrast", async (page) => {
      await openWidget(page, "/bright");
      assert.equal(await inWidget(page, ".ec-header").evaluate((el) => getComputedStyle(el).color), "rgb(17, 17, 17)");
      assert.equal(await inWidget(page, "button.ec-fab").evaluate((el) => getComputedStyle(el).color), "rgb(17, 17, 17)");
      await openWidget(page, "/plain");
      assert.equal(await inWidget(page, ".ec-header").evaluate((el) => getComputedStyle(el).color), "rgb(255, 255, 255)", "white on a dark teal");
    });
  });

  test("theme auto: an inline chat follows the page, not the system", async () => {
    await withPage(browser, "inline-theme", async (page) => {
      await page.emulateMedia({ colorScheme: "dark" });
      await page.goto(`${host.origin}/inline`);
      await page.locator("chat-widget .ec-title").waitFor();
      await assertEventually(async () => (await page.locator("chat-widget .ec-title").textContent()) === "Shop help");
      assert.equal(await page.locator("chat-widget .ec-panel").evaluate((el) => getComputedStyle(el).backgroundColor), "rgb(255, 255, 255)", "light on a light page");
      await page.goto(`${host.origin}/inline-dark`);
      await assertEventually(async () => (await page.locator("chat-widget .ec-title").textContent().catch(() => "")) === "Shop help");
      assert.equal(await page.locator("chat-widget .ec-panel").evaluate((el) => getComputedStyle(el).backgroundColor), "rgb(23, 25, 28)", "dark on a dark page");
    });
  });

  test("destroy() removes the panel and its storage listener, however often it is mounted", async () => {
    await withPage(browser, "destroy", async (page) => {
      await page.addInitScript(() => {
        window.__storage = 0;
        const add = window.addEventListener;
        const remove = window.removeEventListener;
        window.addEventListener = function (type, ...rest) { if (type === "storage") window.__storage++; return add.call(this, type, ...rest); };
        window.removeEventListener = function (type, ...rest) { if (type === "storage") window.__storage--; return remove.call(this, type, ...rest); };
      });
      await page.goto(`${host.origin}/panel-only`);
      await page.waitForFunction(() => window.EdgeChatPanel);
      const left = await page.evaluate(async ([base, key]) => {
        const slot = document.getElementById("slot");
        const root = slot.attachShadow({ mode: "open" });
        for (let i = 0; i < 5; i++) {
          const panel = window.EdgeChatPanel.mount(root, { base, key, mode: "inline" });
          await panel.ready;
          panel.destroy();
        }
        return { listeners: window.__storage, nodes: root.childNodes.length };
      }, [worker.url, testKey("shop")]);
      assert.deepEqual(left, { listeners: 0, nodes: 0 });
    });
  });

  test("translated, right-to-left, and full-screen on a phone", async () => {
    await withPage(browser, "rtl-mobile", async (page) => {
      await openWidget(page, "/arabic");
      assert.equal(await inWidget(page, ".ec-panel").getAttribute("dir"), "rtl");
      assert.equal(await inWidget(page, "textarea").getAttribute("placeholder"), "اكتب رسالة…");
      const box = await inWidget(page, ".ec-panel").boundingBox();
      assert.equal(Math.round(box.width), 375, "the panel fills a phone screen");
      const fontSize = await inWidget(page, "textarea").evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
      assert.ok(fontSize >= 16, "inputs of 16px do not zoom on focus");
    }, { viewport: { width: 375, height: 667 }, locale: "de-DE" });
    await withPage(browser, "browser-language", async (page) => {
      await openWidget(page, "/plain");
      assert.equal(await inWidget(page, "textarea").getAttribute("placeholder"), "Nachricht schreiben…");
    }, { locale: "de-DE" });
  });
});

async function assertEventually(check, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}
