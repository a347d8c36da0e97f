// The tenant dashboard (/admin/) in a real browser: Debian's Chromium (playwright-core) against
// the worker in workerd (Miniflare, real D1, the built static assets, the local model stand-in).
// A tenant signs in with its secret key, creates an agent, embeds it on a host page, and finds
// the visitor's conversation, feedback and usage back in the dashboard.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { Document, HeadingLevel, Packer, Paragraph } from "docx";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { startMcp } from "../support/mcp-server.mjs";
import { startStandIn } from "../support/standin.mjs";
import { startWorker } from "../support/worker.mjs";
import { embedPage, hostSite, inWidget, launch, withPage } from "../support/browser.mjs";

const root = new URL("../..", import.meta.url).pathname;
const ADMIN = randomBytes(24).toString("hex");
let standin;
let mcp;
let worker;
let host;
let browser;
let secretKey;
const pages = {};
const XSS = `<img src=x onerror="window.__xss=1"><b>bold</b>`;

before(async () => {
  standin = await startStandIn();
  mcp = await startMcp({ stateful: true });
  worker = await startWorker(
    { ADMIN_API_KEY: ADMIN, OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "k", WEBHOOK_ALLOW_HOSTS: "127.0.0.1" },
    { assets: true },
  );
  const res = await fetch(`${worker.url}/api/admin/tenants`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "Outdoor Co" }),
  });
  assert.equal(res.status, 201);
  secretKey = (await res.json()).secretKey;
  assert.match(secretKey, /^sk_live_/);
  host = await hostSite(pages); // pages are added once the dashboard gives us a key
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await host?.close();
  await worker?.stop();
  await standin?.close();
  await mcp?.close();
});

/** Opens the dashboard at `hash` and signs in with the tenant's secret key. */
async function signIn(page, hash = "") {
  await page.goto(`${worker.url}/admin/${hash}`);
  await page.getByLabel("Secret key").fill(secretKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#nav:not([hidden])").waitFor();
  await page.locator("#view h1").first().waitFor();
}

const status = (page) => page.locator("#status");

async function assertEventually(check, timeoutMs = 8000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function axeViolations(page) {
  if (!(await page.evaluate(() => !!window.axe))) {
    await page.addScriptTag({ content: readFileSync(`${root}/node_modules/axe-core/axe.min.js`, "utf8") });
  }
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
}

describe("tenant dashboard", () => {
  test("sign in, create an agent, embed it, chat and rate, then find it in the inbox, feedback and usage", async () => {
    await withPage(browser, "dashboard-flow", async (page, errors) => {
      await page.goto(`${worker.url}/admin/`);
      await page.getByLabel("Secret key").fill("sk_live_wrong_key_0000000000");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.locator("#status.error").waitFor();
      assert.match(await status(page).textContent(), /not accepted/);

      await signIn(page);
      assert.equal(await page.locator("#tenant-name").textContent(), "Outdoor Co");
      assert.equal(await page.evaluate(() => sessionStorage.getItem("edgechat:admin:key")), secretKey, "the key is kept in sessionStorage");
      assert.equal(await page.evaluate(() => localStorage.length), 0, "nothing in localStorage");

      await page.getByRole("link", { name: "New agent" }).click();
      await page.getByLabel("Id (optional)").fill("shop");
      await page.getByLabel("Name", { exact: true }).fill("Shop assistant");
      await page.getByLabel("System prompt").fill("You help shoppers.");
      await page.getByLabel("Model", { exact: true }).fill("scenario/plain");
      await page.getByLabel("Allowed origins").fill(host.origin);
      await page.getByLabel("Title", { exact: true }).fill("Shop help");
      await page.getByLabel("Welcome message").fill("Hi! Ask me anything.");
      await page.getByRole("button", { name: "Create agent" }).click();
      await page.locator("#embed-snippet").waitFor();
      assert.match(await status(page).textContent(), /created/);

      const snippet = await page.locator("#embed-snippet").textContent();
      const key = snippet.match(/data-key="(pk_live_[^"]+)"/)?.[1];
      assert.ok(key, snippet);
      assert.equal(snippet, `<script src="${worker.url}/widget.js" data-key="${key}" async></script>`);
      await page.getByRole("button", { name: "Copy snippet" }).click();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), snippet, "Copy puts the snippet on the clipboard");

      // The live preview shows the unsaved title.
      const preview = page.locator(".preview-panel .ec-title");
      // The panel fills in its title once its stylesheet has loaded.
      await assertEventually(async () => (await preview.textContent({ timeout: 500 }).catch(() => "")) === "Shop help");
      await page.getByLabel("Title", { exact: true }).fill("Shop help (draft)");
      await assertEventually(async () => (await preview.textContent({ timeout: 500 }).catch(() => "")) === "Shop help (draft)");

      // A visitor chats on the customer's site and rates the answer.
      pages["/shop"] = embedPage(worker.url, key);
      const visitor = await page.context().newPage();
      await visitor.goto(`${host.origin}/shop`);
      await inWidget(visitor, "button.ec-fab").click();
      await inWidget(visitor, ".ec-panel:not([hidden])").waitFor();
      await inWidget(visitor, "textarea").fill("Tell me about tents");
      await inWidget(visitor, "textarea").press("Enter");
      await inWidget(visitor, ".ec-assistant .ec-actions").first().waitFor({ timeout: 15_000 });
      assert.equal((await inWidget(visitor, ".ec-assistant .ec-bubble").last().textContent()).trim(), "Hello from the stand-in.");
      await inWidget(visitor, ".ec-rate[aria-label='Helpful']").click();
      await assertEventually(async () => (await worker.d1.prepare("SELECT feedback FROM messages WHERE feedback = 'up'").all()).results.length === 1);
      await inWidget(visitor, "textarea").fill(XSS);
      await inWidget(visitor, "textarea").press("Enter");
      await inWidget(visitor, ".ec-assistant .ec-actions").nth(1).waitFor({ timeout: 15_000 });
      await visitor.close();

      // The inbox finds it; the transcript shows the question, the answer and the rating.
      await page.getByRole("link", { name: "Conversations" }).click();
      await page.getByLabel("Search messages").fill("no such words anywhere");
      await page.getByRole("button", { name: "Search" }).click();
      await page.getByText("No conversations found.").waitFor();
      await page.getByLabel("Search messages").fill("TENTS");
      await page.getByRole("button", { name: "Search" }).click();
      await page.getByText("1 conversation shown.").waitFor();
      await page.locator(".list li a").first().click();
      await page.locator(".transcript").waitFor();
      assert.equal(await page.locator(".msg.user .text").first().textContent(), "Tell me about tents");
      assert.equal(await page.locator(".msg.assistant .text").first().textContent(), "Hello from the stand-in.");
      assert.match(await page.locator(".msg.assistant .feedback.up").textContent(), /up/);
      assert.equal(await page.locator(".msg.assistant .feedback").count(), 1, "only the rated answer shows a rating");
      assert.equal(await page.locator(".msg.user .text").last().textContent(), XSS, "markup from a visitor shows as text");
      assert.equal(await page.locator(".transcript img, .transcript b").count(), 0);
      assert.equal(await page.evaluate(() => window.__xss), undefined, "nothing from the transcript ran");

      await page.getByRole("link", { name: "Back to inbox" }).click();
      await page.getByRole("link", { name: "Feedback" }).click();
      await page.locator(".feedback-list li").first().waitFor();
      const item = await page.locator(".feedback-list li").first().textContent();
      assert.match(item, /up/);
      assert.match(item, /Q: Tell me about tents/);
      assert.match(item, /A: Hello from the stand-in\./);

      await page.getByRole("link", { name: "Usage" }).click();
      await page.locator("#total-messages").waitFor();
      assert.ok(Number((await page.locator("#total-messages").textContent()).replace(/\D/g, "")) >= 1);
      assert.equal(await page.locator(".chart svg").count(), 3, "messages, tokens and cost charts");
      assert.ok((await page.locator(".chart rect").count()) >= 3);
      assert.match(await page.locator("table").textContent(), /shop/);
      assert.deepEqual(errors, []);

      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByLabel("Secret key").waitFor();
      assert.equal(await page.evaluate(() => sessionStorage.getItem("edgechat:admin:key")), null, "sign out clears the key");
    }, { permissions: ["clipboard-read", "clipboard-write"] });
  });

  test("a stale edit is refused with a message and the form keeps its edits", async () => {
    const context = await browser.newContext();
    try {
      const [a, b] = [await context.newPage(), await context.newPage()];
      await signIn(a, "#agent/shop");
      await signIn(b, "#agent/shop");
      await a.getByLabel("Title", { exact: true }).fill("Saved in tab A");
      await a.getByRole("button", { name: "Save changes" }).click();
      await a.locator("#status.ok").waitFor();

      await b.getByLabel("Welcome message").fill("Edited in tab B");
      await b.getByLabel("Fallback models").fill("scenario/backup");
      await b.getByRole("button", { name: "Save changes" }).click();
      await b.locator("#status.error").waitFor();
      assert.match(await b.locator("#status").textContent(), /This agent was changed since you loaded it/);
      assert.equal(await b.getByLabel("Welcome message").inputValue(), "Edited in tab B", "the edit is still there");
      assert.equal(await b.getByLabel("Fallback models").inputValue(), "scenario/backup");
      assert.equal(await b.getByRole("button", { name: /Load the latest version/ }).isVisible(), true, "a way to start over is offered");

      const stored = JSON.parse((await worker.d1.prepare("SELECT config FROM agents WHERE id = 'shop'").first()).config);
      assert.equal(stored.branding.title, "Saved in tab A");
      assert.equal(stored.welcomeMessage, "Hi! Ask me anything.", "the stale save changed nothing");

      // Tab A saves again with the ETag it got back: accepted.
      await a.getByLabel("Welcome message").fill("Second save from A");
      await a.getByRole("button", { name: "Save changes" }).click();
      await assertEventually(async () => JSON.parse((await worker.d1.prepare("SELECT config FROM agents WHERE id = 'shop'").first()).config).welcomeMessage === "Second save from A");
    } finally {
      await context.close();
    }
  });

  test("webhook tools: a test call shown inline, secret headers kept; keys; duplicate and delete", async () => {
    await withPage(browser, "dashboard-tools-keys", async (page, errors) => {
      page.on("dialog", (d) => d.accept());
      await signIn(page, "#agent/shop");
      // The agent as an OpenAI-compatible model: its id, the base URL and a snippet per client.
      assert.equal(await page.locator("#api-model").textContent(), "shop");
      assert.equal(await page.locator("#api-base").textContent(), `${worker.url}/v1`);
      assert.match(await page.locator("#api-snippet").textContent(), /model: "shop"/);
      await page.getByLabel("Snippet language").selectOption("curl");
      assert.match(await page.locator("#api-snippet").textContent(), /\/v1\/chat\/completions/);
      await page.getByRole("button", { name: "Add tool" }).click();
      const tool = page.locator("fieldset.tool").last();
      await tool.getByLabel("Tool name").fill("lookup_order");
      await tool.getByLabel("Description").fill("Look up an order");
      await tool.getByLabel("URL").fill(`${standin.url}/hooks/order`);
      await tool.getByLabel("Headers (JSON)").fill('{"x-api-key": "hook-secret"}');
      await tool.getByLabel("Test input (JSON)").fill('{"orderId": "A1"}');
      await tool.getByRole("button", { name: "Test call" }).click();
      await tool.locator("output.result.ok").waitFor();
      assert.match(await tool.locator("output").textContent(), /"authorized": true/);

      await page.getByRole("button", { name: "Save changes" }).click();
      await page.locator("#status.ok").waitFor();
      await page.reload();
      await page.locator("fieldset.tool").waitFor();
      const saved = page.locator("fieldset.tool").last();
      assert.match(await saved.getByLabel("Headers (JSON)").inputValue(), /\*{8}/, "header values come back masked");
      await saved.getByLabel("Test input (JSON)").fill('{"orderId": "B2"}');
      await saved.getByRole("button", { name: "Test call" }).click();
      await saved.locator("output.result.ok").waitFor();
      assert.match(await saved.locator("output").textContent(), /"authorized": true/, "masked headers keep the stored secret");

      // An invalid field is refused with the API's message.
      await page.getByLabel("Messages per IP per minute").fill("0");
      await page.getByRole("button", { name: "Save changes" }).click();
      await page.locator("#status.error").waitFor();
      assert.match(await page.locator("#status").textContent(), /ipPerMinute/);
      assert.deepEqual(await axeViolations(page), [], "agent editor");

      // Keys: create a publishable key, shown once; revoke it.
      await page.getByRole("link", { name: "Keys" }).focus();
      await page.keyboard.press("Enter");
      await page.getByRole("heading", { name: "Keys", level: 1 }).waitFor();
      assert.equal(await page.evaluate(() => document.activeElement.textContent), "Keys", "focus moves to the new view's heading");
      await page.getByLabel("Name", { exact: true }).fill("marketing site");
      await page.getByRole("button", { name: "Create key" }).click();
      await page.locator("#new-key").waitFor();
      assert.match(await page.locator("#new-key").textContent(), /^pk_live_/);
      assert.match(await page.locator(".warn").textContent(), /will not be shown again/);
      const row = page.locator("tr", { hasText: "marketing site" });
      await row.waitFor();
      await row.getByRole("button", { name: /Revoke/ }).click();
      await row.getByText(/revoked/).waitFor();
      assert.deepEqual(await axeViolations(page), [], "keys");

      // An API key for one agent: shown once, listed masked with its scope, and it calls /v1.
      await page.getByLabel("Kind").selectOption("api");
      await page.getByLabel("Every agent (also agents created later)").uncheck();
      await page.getByLabel("Shop assistant (shop)").check();
      await page.getByLabel("Requests per minute (this key)").fill("120");
      await page.getByLabel("Name", { exact: true }).fill("crm backend");
      await page.getByRole("button", { name: "Create key" }).click();
      await page.waitForFunction(() => document.querySelector("#new-key")?.textContent.startsWith("ak_live_"));
      const apiKey = await page.locator("#new-key").textContent();
      const apiRow = page.locator("tr", { hasText: "crm backend" });
      await apiRow.waitFor();
      assert.match(await apiRow.textContent(), /api \(120\/min\)/);
      assert.ok(!(await apiRow.textContent()).includes(apiKey), "listed masked");
      const called = await fetch(`${worker.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "shop", messages: [{ role: "user", content: "Hi" }] }),
      });
      assert.equal(called.status, 200, await called.clone().text());
      assert.equal((await called.json()).object, "chat.completion");
      assert.deepEqual(await axeViolations(page), [], "keys with an API key");

      // Duplicate the agent, then delete the copy.
      await page.goto(`${worker.url}/admin/#agent/shop`);
      await page.getByRole("button", { name: "Duplicate" }).click();
      await page.getByRole("heading", { name: "Shop assistant (copy)" }).waitFor();
      await page.getByRole("button", { name: "Delete" }).click();
      await page.getByRole("heading", { name: "Agents", level: 1 }).waitFor();
      await page.locator("tbody tr").first().waitFor();
      assert.equal(await page.locator("tbody tr").count(), 1, "the copy is gone");
      assert.match(await page.locator("tbody").textContent(), /Shop assistant/);
      assert.deepEqual(await axeViolations(page), [], "agents list");

      for (const view of ["conversations", "feedback", "usage"]) {
        await page.goto(`${worker.url}/admin/#${view}`);
        await page.locator("#view h1").waitFor();
        await page.waitForLoadState("networkidle");
        assert.deepEqual(await axeViolations(page), [], view);
      }
      await page.goto(`${worker.url}/admin/#conversations`);
      await page.locator(".list li a").first().click();
      await page.getByRole("button", { name: "Delete" }).click();
      await page.getByText("Conversation deleted.").waitFor();
      await page.getByText("No conversations found.").waitFor();
      assert.deepEqual(errors, []);
    });
  });

  test("MCP servers: Test connection lists the tools to tick, the header secret is masked and kept", async () => {
    await withPage(browser, "dashboard-mcp", async (page, errors) => {
      await signIn(page, "#agent/shop");
      await page.getByRole("button", { name: "Add MCP server" }).click();
      const server = page.locator("fieldset.mcp-server").last();
      await server.getByLabel("Server name").fill("docs");
      await server.getByLabel("MCP endpoint URL").fill(mcp.url);
      await server.getByLabel("Headers (JSON)").fill('{"authorization": "Bearer browser-mcp-secret"}');
      await server.getByRole("button", { name: "Test connection" }).click();
      await server.locator("output.result.ok").waitFor();
      assert.match(await server.locator("output").textContent(), /5 tools/);
      // Only some tools: untick "every tool" (each tool stays ticked), then untick all but lookup.
      await server.getByLabel("The agent may use every tool of this server").uncheck();
      for (const tool of ["slow", "crash", "fails", "hidden"]) await server.getByLabel(new RegExp(`^${tool}`)).uncheck();
      assert.equal(await server.getByLabel(/^lookup/).isChecked(), true);
      await page.getByRole("button", { name: "Save changes" }).click();
      await page.locator("#status.ok").waitFor();

      const saved = await fetch(`${worker.url}/api/admin/agents/shop`, { headers: { authorization: `Bearer ${secretKey}` } }).then((r) => r.json());
      const [stored] = saved.agent.config.mcpServers;
      assert.deepEqual(stored.allowedTools, ["lookup"]);
      assert.equal(stored.headers.authorization, "********");

      await page.reload();
      const again = page.locator("fieldset.mcp-server").last();
      await again.waitFor();
      assert.match(await again.getByLabel("Headers (JSON)").inputValue(), /\*{8}/);
      assert.equal(await again.getByLabel(/^lookup/).isChecked(), true);
      const before = mcp.log.requests.length;
      await again.getByRole("button", { name: "Test connection" }).click();
      await again.locator("output.result.ok").waitFor();
      const init = mcp.log.requests.slice(before).find((r) => r.body?.method === "initialize");
      assert.equal(init.headers.authorization, "Bearer browser-mcp-secret", "the masked header kept the stored secret");
      assert.equal(await again.getByLabel(/^lookup/).isChecked(), true, "a test keeps what was ticked");
      assert.equal(await again.getByLabel(/^hidden/).isChecked(), false);
      assert.deepEqual(await axeViolations(page), [], "agent editor with an MCP server");

      await again.getByRole("button", { name: "Remove server" }).click();
      await page.getByRole("button", { name: "Save changes" }).click();
      await page.locator("#status.ok").waitFor();
      assert.deepEqual(errors, []);
    });
  });

  test("a new agent starts allowed on the dashboard itself, its preview chats are marked, and a refused origin can be allowed in one click", async () => {
    await withPage(browser, "dashboard-onboarding", async (page, errors) => {
      // Counts the page's live `storage` listeners: each preview mount adds one, destroy() removes it.
      await page.addInitScript(() => {
        window.__storage = 0;
        const add = window.addEventListener;
        const remove = window.removeEventListener;
        window.addEventListener = function (type, ...rest) { if (type === "storage") window.__storage++; return add.call(this, type, ...rest); };
        window.removeEventListener = function (type, ...rest) { if (type === "storage") window.__storage--; return remove.call(this, type, ...rest); };
      });
      await signIn(page, "#new-agent");
      const origins = page.getByLabel("Allowed origins");
      assert.equal(await origins.inputValue(), worker.url, "the dashboard's own origin is allowed from the start");
      await page.getByRole("group", { name: "Where will this chat run?" }).waitFor();
      assert.equal(await page.locator("#no-origins").isVisible(), false);
      await origins.fill("");
      await origins.dispatchEvent("input");
      assert.equal(await page.locator("#no-origins").isVisible(), true, "an agent with no origins is warned about");
      assert.match(await page.locator("#no-origins").textContent(), /works nowhere/);
      await page.getByRole("button", { name: `Add this dashboard (${worker.url})` }).click();
      assert.equal(await origins.inputValue(), worker.url);
      await page.getByLabel("Id (optional)").fill("onboard");
      await page.getByLabel("Name", { exact: true }).fill("Onboarding bot");
      await page.getByLabel("Model", { exact: true }).fill("scenario/plain");
      await page.getByRole("button", { name: "Create agent" }).click();
      await page.locator("#embed-snippet").waitFor();

      // The preview chats at once, and its conversation is marked as a preview.
      const panel = page.locator(".preview-panel");
      await panel.locator(".ec-title").waitFor();
      await panel.locator("textarea").fill("Hello from the preview");
      await panel.locator("textarea").press("Enter");
      await panel.locator(".ec-actions").waitFor({ timeout: 15_000 });
      for (const title of ["One", "Two", "Three"]) {
        await page.getByLabel("Title", { exact: true }).fill(title);
        await assertEventually(async () => (await panel.locator(".ec-title").textContent({ timeout: 500 }).catch(() => "")) === title);
      }
      assert.equal(await page.evaluate(() => window.__storage), 1, "remounting the preview leaves one listener, not one per edit");
      const row = await worker.d1.prepare("SELECT preview, channel FROM conversations WHERE agent_id = 'onboard'").first();
      assert.deepEqual({ ...row }, { preview: 1, channel: "inline" });
      assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("edgechat:onboard")).length), 0, "the preview keeps its own visitor, apart from real embeds");

      // Without the dashboard's origin the preview names it and offers to allow it.
      await origins.fill("https://www.example.com");
      await origins.dispatchEvent("input");
      // The save is held on its way, and "Allow this origin" is clicked meanwhile: its save runs
      // after this one instead of being lost on the disabled button.
      const slowSave = async (route) => {
        if (route.request().method() === "PATCH") await new Promise((r) => setTimeout(r, 600));
        // The page may have moved on meanwhile; then there is nothing left to continue.
        await route.continue().catch(() => {});
      };
      await page.route("**/api/admin/agents/onboard", slowSave);
      await page.getByRole("button", { name: "Save changes" }).click();
      const refused = page.locator("#preview-refused");
      assert.equal(await refused.isVisible(), true);
      assert.match(await refused.textContent(), new RegExp(`${worker.url.replace(/[.]/g, "\\.")} is not in the agent’s allowed origins`));
      await refused.getByRole("button", { name: "Allow this origin" }).click();
      // Both saves landed: the edited origin and the dashboard's own, in that order.
      await assertEventually(async () => {
        const saved = JSON.parse((await worker.d1.prepare("SELECT config FROM agents WHERE id = 'onboard'").first()).config).allowedOrigins;
        return saved.includes("https://www.example.com") && saved.includes(worker.url);
      });
      await page.unroute("**/api/admin/agents/onboard", slowSave);
      // The notice goes and stays gone, even when a refusal from before the click arrives late.
      await refused.waitFor({ state: "hidden", timeout: 10_000 });
      assert.deepEqual(await axeViolations(page), [], "agent editor with preview");
      await page.goto(`${worker.url}/admin/#new-agent`);
      await page.locator("#view h1").waitFor();
      assert.deepEqual(await axeViolations(page), [], "new agent");
      assert.deepEqual(errors, []);
    });
  });

  test("built-in tools, maxSteps, verified users, locale, avatar and launcher icon are editable; a bad colour is refused; Last saved moves", async () => {
    await withPage(browser, "dashboard-editor-fields", async (page, errors) => {
      await signIn(page, "#agent/shop");
      const before = await page.locator("#last-saved").textContent();
      await page.getByLabel("Current date and time (get_current_time)").check();
      await page.getByLabel("Most tool rounds per answer (maxSteps)").fill("3");
      await page.getByLabel("Only verified users may chat (requireVerifiedUser)").check();
      await page.getByLabel("Language of the widget").selectOption("fr");
      await page.getByLabel("Avatar image URL").fill("https://cdn.example/bot.png");
      await page.getByLabel("Launcher icon URL").fill("https://cdn.example/chat.svg");
      await page.getByLabel("Primary colour").fill("green-ish");
      await page.getByRole("button", { name: "Save changes" }).click();
      await page.locator("#status.error").waitFor();
      assert.match(await status(page).textContent(), /branding\.primaryColor/);
      assert.doesNotMatch(await status(page).textContent(), /Saved/);

      await page.getByLabel("Primary colour").fill("#fde047");
      await page.getByLabel("How the agent uses its knowledge").selectOption("tool");
      await page.waitForTimeout(1100); // "Last saved" shows seconds: let the clock move on
      await page.getByRole("button", { name: "Save changes" }).click();
      await page.locator("#status.ok").waitFor();
      const stored = await worker.d1.prepare("SELECT config, updated_at FROM agents WHERE id = 'shop'").first();
      const config = JSON.parse(stored.config);
      assert.deepEqual(config.tools.builtin, ["get_current_time"]);
      assert.equal(config.maxSteps, 3);
      assert.equal(config.requireVerifiedUser, true);
      assert.equal(config.locale, "fr");
      assert.equal(config.branding.avatarUrl, "https://cdn.example/bot.png");
      assert.equal(config.branding.launcherIconUrl, "https://cdn.example/chat.svg");
      assert.equal(config.knowledge.mode, "tool", "the knowledge mode select is saved");
      const after = await page.locator("#last-saved").textContent();
      assert.notEqual(after, before, "Last saved shows the new save");
      assert.equal(after, `Last saved ${await page.evaluate((ms) => new Date(ms).toLocaleString(), stored.updated_at)}`);

      // Put the shop agent back the way the other tests use it.
      await page.getByLabel("Only verified users may chat (requireVerifiedUser)").uncheck();
      await page.getByLabel("Language of the widget").selectOption("");
      assert.equal(await page.getByLabel("How the agent uses its knowledge").inputValue(), "tool", "the saved mode is shown again");
      await page.getByLabel("How the agent uses its knowledge").selectOption("auto");
      await page.getByRole("button", { name: "Save changes" }).click();
      await page.locator("#status.ok").waitFor();
      assert.deepEqual(errors, []);
    });
  });

  test("phone agents: Twilio credentials under Integrations (masked), phone settings and the incoming-call URL on the agent page", async () => {
    await withPage(browser, "dashboard-phone", async (page, errors) => {
      const sid = `AC${randomBytes(16).toString("hex")}`;
      const token = randomBytes(16).toString("hex");
      await signIn(page, "#integrations");
      await page.getByText("Not set up").waitFor();
      await page.getByLabel("Account SID").fill(sid);
      await page.getByLabel("Auth Token").fill(token);
      await page.getByRole("button", { name: "Connect Twilio" }).click();
      await page.locator("#twilio-state", { hasText: "Connected" }).waitFor();
      const shown = await page.locator("#view").textContent();
      assert.ok(shown.includes(`••••${token.slice(-4)}`) && !shown.includes(token) && !shown.includes(sid), shown);
      assert.equal(await page.getByLabel("Auth Token").inputValue(), "", "the token is never put back in the form");

      await page.goto(`${worker.url}/admin/#agent/shop`);
      await page.locator("#call-url").waitFor();
      assert.equal(await page.locator("#call-url").textContent(), `${worker.url}/voice/twilio/shop`);
      await page.getByLabel("Answer phone calls").check();
      await page.getByLabel("Greeting").fill("Thanks for calling the shop.");
      await page.getByLabel("Voice provider").selectOption("Google");
      await page.getByLabel("Voice", { exact: true }).fill("en-US-Journey-O");
      await page.getByLabel("Transfer to (handoff number)").fill("555-1234");
      await page.getByRole("button", { name: "Save changes" }).click();
      await page.locator("#status.error").waitFor();
      assert.match(await status(page).textContent(), /phone\.handoffNumber/);
      await page.getByLabel("Transfer to (handoff number)").fill("+15551234567");
      await page.getByLabel("Transfer hours: time zone").fill("Europe/Paris");
      await page.getByLabel("Transfer days").fill("1,2,3,4,5");
      await page.getByLabel("Opens").fill("09:00");
      await page.getByLabel("Closes").fill("17:00");
      await page.getByRole("button", { name: "Save changes" }).click();
      await page.locator("#status.ok").waitFor();
      const stored = JSON.parse((await worker.d1.prepare("SELECT config FROM agents WHERE id = 'shop'").first()).config);
      assert.equal(stored.phone.enabled, true);
      assert.equal(stored.phone.greeting, "Thanks for calling the shop.");
      assert.equal(stored.phone.voice, "en-US-Journey-O");
      assert.equal(stored.phone.handoffNumber, "+15551234567");
      assert.deepEqual(stored.phone.handoffHours, { timezone: "Europe/Paris", days: [1, 2, 3, 4, 5], open: "09:00", close: "17:00" });
      assert.equal(stored.phone.maxCallSeconds, 600);
      // Put the shop agent back the way the other tests use it.
      await page.getByLabel("Answer phone calls").uncheck();
      await page.getByRole("button", { name: "Save changes" }).click();
      await page.locator("#status.ok").waitFor();
      assert.deepEqual(await axeViolations(page), []);
      assert.deepEqual(errors, []);
    });
  });

  test("privacy: retention saved, one end user exported as JSON and erased only after the confirm step", async () => {
    await withPage(browser, "dashboard-privacy", async (page, errors) => {
      const tenant = (await worker.d1.prepare("SELECT id FROM tenants WHERE name = 'Outdoor Co'").first()).id;
      const at = Date.now();
      await worker.d1.prepare("INSERT INTO conversations (id, tenant_id, agent_id, visitor_id, created_at, updated_at) VALUES ('priv-ann', ?1, 'shop', 'u:ann', ?2, ?2)").bind(tenant, at).run();
      await worker.d1.prepare("INSERT INTO messages (id, conversation_id, tenant_id, seq, role, parts, created_at) VALUES ('priv-q', 'priv-ann', ?1, 1, 'user', '[{\"type\":\"text\",\"text\":\"my address\"}]', ?2)").bind(tenant, at).run();
      await worker.d1.prepare("INSERT INTO messages (id, conversation_id, tenant_id, seq, role, parts, created_at, feedback, feedback_at) VALUES ('priv-a', 'priv-ann', ?1, 2, 'assistant', '[{\"type\":\"text\",\"text\":\"noted\"}]', ?2, 'up', ?2)").bind(tenant, at).run();

      await signIn(page, "#privacy");
      await page.getByText("Conversations are kept until you delete them.").waitFor();
      await page.getByLabel("Keep conversations forever").uncheck();
      await page.getByLabel("Delete conversations after (days)").fill("45");
      await page.getByRole("button", { name: "Save retention" }).click();
      await page.locator("#retention-state", { hasText: "more than 45 days" }).waitFor();
      assert.equal((await worker.d1.prepare("SELECT retention_days AS d FROM tenants WHERE id = ?1").bind(tenant).first()).d, 45);

      await page.getByLabel("Identify the end user by").selectOption("userId");
      await page.getByLabel("Id", { exact: true }).fill("ann");
      await page.getByRole("button", { name: "Export as JSON" }).click();
      await page.locator("#export-summary", { hasText: "1 conversation, 2 messages of u:ann" }).waitFor();
      const href = await page.getByRole("link", { name: /Download end-user-u_ann\.json/ }).getAttribute("href");
      const exported = JSON.parse(await page.evaluate(async (url) => (await fetch(url)).text(), href));
      assert.equal(exported.visitorId, "u:ann");
      assert.deepEqual(exported.conversations.map((c) => c.id), ["priv-ann"]);
      assert.equal(exported.conversations[0].messages[1].metadata.feedback, "up");

      await page.getByRole("button", { name: "Erase…" }).click();
      await page.locator("#erase-confirm").waitFor();
      const count = async () => (await worker.d1.prepare("SELECT count(*) AS n FROM conversations WHERE visitor_id = 'u:ann'").first()).n;
      assert.equal(await count(), 1, "nothing is deleted before the confirm");
      assert.deepEqual(await axeViolations(page), []);
      await page.getByRole("button", { name: "Cancel" }).click();
      assert.equal(await page.locator("#erase-confirm").count(), 0);
      await page.getByRole("button", { name: "Erase…" }).click();
      await page.getByRole("button", { name: "Erase for good" }).click();
      await page.locator("#erase-summary", { hasText: "Erased 1 conversation, 2 messages and 1 rating." }).waitFor();
      assert.equal(await count(), 0);
      // Back to keeping everything, for the tests after this one.
      await page.getByLabel("Keep conversations forever").check();
      await page.getByRole("button", { name: "Save retention" }).click();
      await page.locator("#retention-state", { hasText: "kept until you delete them" }).waitFor();
      assert.deepEqual(errors, []);
    });
  });

  test("tracing: Langfuse and OTLP settings (secrets masked), Send test trace, and each answer's timeline in the transcript", async () => {
    const { startOtlpReceiver, spansOf } = await import("../support/otlp-receiver.mjs");
    const receiver = await startOtlpReceiver();
    try {
      await withPage(browser, "dashboard-tracing", async (page, errors) => {
        const secret = `sk-lf-${randomBytes(12).toString("hex")}`;
        await signIn(page, "#tracing");
        const langfuse = page.locator("#tracing-langfuse");
        await langfuse.getByLabel("Host").fill(`${receiver.url}/lf`);
        await langfuse.getByLabel("Public key").fill("pk-lf-dashboard");
        await langfuse.getByLabel("Secret key").fill(secret);
        await langfuse.getByLabel("Sample rate (0 to 1)").fill("0.5");
        await langfuse.getByLabel("Export inputs and outputs").uncheck();
        await langfuse.getByRole("button", { name: "Connect Langfuse" }).click();
        await page.locator("#status.ok").waitFor();
        // Saved: the form is drawn again from what the API shows (Remove appears).
        await page.locator("#tracing-langfuse").getByRole("button", { name: "Remove" }).waitFor();
        const shown = await page.locator("#view").textContent();
        assert.ok(!shown.includes(secret), "the secret key is never shown");
        assert.equal(await page.locator("#tracing-langfuse").getByLabel("Secret key").inputValue(), "");
        assert.equal(await page.locator("#tracing-langfuse").getByLabel("Export inputs and outputs").isChecked(), false);
        await page.locator("#tracing-langfuse").getByRole("button", { name: "Send test trace" }).click();
        await page.locator("#tracing-langfuse .ok", { hasText: "Delivered" }).waitFor();
        const sent = receiver.exports.at(-1);
        assert.equal(sent.path, "/lf/api/public/otel/v1/traces");
        assert.equal(spansOf(sent.request)[0].attributes["langfuse.trace.name"], "test trace");
        const otlp = page.locator("#tracing-otlp");
        await otlp.getByLabel("Endpoint").fill(`${receiver.url}/v1/traces`);
        await otlp.getByLabel("Headers").fill("x-api-key: dashboard-header-secret");
        await otlp.getByRole("button", { name: "Connect OTLP backend" }).click();
        await page.locator("#status.ok").waitFor();
        await page.locator("#tracing-otlp").getByRole("button", { name: "Remove" }).waitFor();
        assert.equal(await page.locator("#tracing-otlp").getByLabel("Headers").inputValue(), "x-api-key", "header names only");
        assert.ok(!(await page.locator("#view").textContent()).includes("dashboard-header-secret"));
        assert.deepEqual(await axeViolations(page), []);

        // A conversation with an answer: its timeline under the answer.
        const r = await fetch(`${worker.url}/api/admin/conversations?limit=20`, { headers: { authorization: `Bearer ${secretKey}` } });
        const conversations = (await r.json()).conversations.filter((c) => c.messageCount >= 2);
        assert.ok(conversations.length > 0, "an earlier test chatted");
        await page.goto(`${worker.url}/admin/#conversation/${conversations[0].id}`);
        const timeline = page.locator(".msg.assistant .timeline").first();
        await timeline.waitFor();
        assert.match(await timeline.locator("summary").textContent(), /first token .* total .* model .* tokens/);
        await timeline.locator("summary").click();
        assert.ok((await timeline.locator(".bars li").count()) >= 1, "a bar per model call");
        assert.match(await timeline.textContent(), /Models tried: /);
        assert.deepEqual(await axeViolations(page), []);
        assert.deepEqual(errors, []);
      });
    } finally {
      await receiver.close();
    }
  });

  test("the inbox shows what a tenant needs, highlights matches, filters, and renders answers safely", async () => {
    const admin = (method, path, body) => fetch(`${worker.url}/api/admin${path}`, { method, headers: { authorization: `Bearer ${secretKey}`, "content-type": "application/json" }, body: body && JSON.stringify(body) }).then((r) => r.json());
    for (const [id, model] of [["cited", "scenario/cited"], ["broken", "scenario/unauthorized"]]) {
      await admin("POST", "/agents", { id, config: { name: id === "cited" ? "Returns helper" : "Broken bot", model, allowedOrigins: [host.origin] } });
    }
    const keyOf = async (id) => (await admin("GET", `/agents/${id}`)).agent.publishableKeys[0];
    let token;
    const turn = async (agentId, chatId, text, channel) => {
      const res = await fetch(`${worker.url}/api/agents/${agentId}/chat`, {
        method: "POST",
        headers: { "x-publishable-key": await keyOf(agentId), origin: host.origin, "content-type": "application/json", ...(token ? { "x-visitor-token": token } : {}) },
        body: JSON.stringify({ id: chatId, channel, context: { url: `${host.origin}/help/returns`, title: "Returns" }, messages: [{ id: `u_${chatId}_${Math.random()}`, role: "user", parts: [{ type: "text", text }] }] }),
      });
      token ??= res.headers.get("x-visitor-token");
      await res.text();
    };
    await turn("cited", "inbox_returns", "How long is the return window for boots?", "widget");
    await turn("cited", "inbox_returns", "And for tents?", "widget");
    await turn("broken", "inbox_broken", "Anyone there?", "inline");
    const conversation = await admin("GET", "/conversations/inbox_returns");
    const answer = conversation.conversation.messages.find((m) => m.role === "assistant");
    await fetch(`${worker.url}/api/agents/cited/conversations/inbox_returns/messages/${answer.id}/feedback`, {
      method: "POST", headers: { "x-publishable-key": await keyOf("cited"), origin: host.origin, "x-visitor-token": token, "content-type": "application/json" }, body: JSON.stringify({ rating: "down" }),
    });

    await withPage(browser, "dashboard-inbox", async (page, errors) => {
      await signIn(page, "#conversations");
      const row = page.locator(".inbox li", { hasText: "How long is the return window" });
      await row.waitFor();
      const text = await row.textContent();
      assert.match(text, /Returns helper/, "the agent's name");
      assert.match(text, /4 messages/);
      assert.match(text, /(now|seconds? ago|minutes? ago)/, "last activity, relative");
      assert.match(text, /widget/, "the channel");
      assert.match(text, new RegExp(`${host.origin.replace(/^http:\/\//, "").replace(/[.]/g, "\\.")}/help/returns`), "the page");
      assert.match(text, /Rated not helpful/);
      assert.equal(await row.locator("svg.icon-down").count(), 1, "the rating is an SVG icon");
      assert.doesNotMatch(await page.locator("#view").textContent(), /[\u{1F44D}\u{1F44E}]/u, "no emoji thumbs");
      assert.match(await page.locator(".inbox li", { hasText: "Anyone there?" }).textContent(), /Last answer failed/);

      await page.getByLabel("Search messages").fill("TENTS");
      await page.getByRole("button", { name: "Search" }).click();
      await page.getByText("1 conversation shown.").waitFor();
      assert.deepEqual(await page.locator(".inbox mark").allTextContents(), ["tents"], "the match is highlighted, from the message that has it");
      await page.getByLabel("Search messages").fill("");
      await page.getByLabel("Rating").selectOption("down");
      await page.getByText("1 conversation shown.").waitFor();
      await page.getByLabel("Rating").selectOption("");
      await page.getByLabel("Channel").selectOption("inline");
      await page.locator(".inbox li", { hasText: "Anyone there?" }).waitFor();
      await assertEventually(async () => (await page.locator(".inbox li").count()) === 1);
      await page.getByLabel("Channel").selectOption("");
      await page.getByLabel("Status").selectOption("error");
      await assertEventually(async () => (await page.locator(".inbox li").count()) === 1 && /Anyone there/.test(await page.locator(".inbox li").textContent()));
      await page.getByLabel("Status").selectOption("");
      await page.getByLabel("Preview chats").selectOption("true");
      await page.locator(".inbox li", { hasText: "Hello from the preview" }).waitFor();
      assert.deepEqual(await axeViolations(page), [], "inbox with filters");

      await page.goto(`${worker.url}/admin/#conversation/inbox_returns`);
      await page.locator(".transcript").waitFor();
      assert.equal(await page.locator(".msg.assistant .text strong").first().textContent(), "30 days", "answers render Markdown like the widget");
      assert.doesNotMatch(await page.locator(".msg.assistant .text").first().textContent(), /\*\*/);
      assert.equal(await page.locator(".msg.assistant .feedback svg.icon-down").count(), 1);
      assert.deepEqual(await axeViolations(page), [], "transcript");
      await page.goto(`${worker.url}/admin/#conversation/inbox_broken`);
      await page.locator(".failed-turn").waitFor();
      assert.match(await page.locator(".failed-turn").textContent(), /This answer failed/);
      const color = await page.locator(".failed-turn").evaluate((el) => getComputedStyle(el).color);
      assert.equal(color, "rgb(180, 35, 24)", "a failed turn stands out");
      await page.goto(`${worker.url}/admin/#feedback`);
      await page.locator(".feedback-list li", { hasText: "30 days" }).waitFor();
      assert.equal(await page.locator(".feedback-list li", { hasText: "30 days" }).locator("strong", { hasText: "30 days" }).count(), 1, "feedback answers render Markdown too");
      assert.deepEqual(errors, []);
    });
  });

  test("usage charts have axes and the table names agents; the demo site and dashboard have a favicon", async () => {
    await withPage(browser, "dashboard-usage", async (page) => {
      await signIn(page, "#usage");
      await page.locator(".chart svg").first().waitFor();
      const chart = page.locator(".chart").first();
      assert.equal(await chart.locator("line.axis").count(), 2, "an x and a y axis");
      assert.ok((await chart.locator("text.tick").count()) >= 4, "labels on both axes");
      assert.ok((await chart.locator("rect").count()) >= 28, "a bar per day of the range, not one wide bar");
      const widths = await chart.locator("rect").evaluateAll((rs) => rs.map((r) => Number(r.getAttribute("width"))));
      assert.ok(Math.max(...widths) <= 24, "bars stay narrow");
      assert.match(await page.locator("table tbody").textContent(), /Shop assistant/, "agents by name");
      assert.deepEqual(await axeViolations(page), [], "usage");
    });
    for (const path of ["/favicon.svg", "/admin/favicon.svg"]) {
      const res = await fetch(`${worker.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get("content-type"), /svg/);
    }
    for (const path of ["/", "/inline.html", "/admin/"]) {
      assert.match(await (await fetch(`${worker.url}${path}`)).text(), /<link rel="icon" href="\/(admin\/)?favicon\.svg"/, path);
    }
  });

  test("knowledge: a crawl source is added with its most pages and depth, and crawls the host's linked pages", async () => {
    pages["/guide/"] = `<html><head><title>Guide</title></head><body><nav><a href="setup">Setup</a> <a href="https://elsewhere.example/">Out</a></nav><h1>Guide</h1><p>Trailhead maps for every season.</p></body></html>`;
    pages["/guide/setup"] = `<html><head><title>Setup</title></head><body><nav><a href="setup/advanced">More</a></nav><h1>Setup</h1><p>Pitch the tent before dusk.</p></body></html>`;
    pages["/guide/setup/advanced"] = `<html><head><title>Advanced</title></head><body><h1>Advanced</h1><p>Two links away from the guide.</p></body></html>`;
    await withPage(browser, "dashboard-knowledge-crawl", async (page) => {
      await signIn(page, "#knowledge");
      await page.getByLabel("Name").fill("Trail guide");
      await page.getByRole("button", { name: "Create" }).click();
      await page.getByRole("heading", { name: "Trail guide" }).waitFor();
      const form = page.locator("form", { has: page.getByRole("heading", { name: "Add a source" }) });
      await form.getByLabel("Type").selectOption("crawl");
      assert.ok(await form.getByLabel("Most links deep").isVisible(), "a crawl asks how deep");
      assert.equal(await form.getByLabel("Most links deep").inputValue(), "2", "the default depth");
      await form.getByLabel("URL").fill(`${host.origin}/guide/`);
      await form.getByLabel("Most pages").fill("10");
      await form.getByLabel("Most links deep").fill("1");
      await form.getByRole("button", { name: "Add source" }).click();
      const row = page.locator("#sources tbody tr").first();
      await assertEventually(async () => (await row.getAttribute("data-status")) === "ready", 20_000);
      assert.equal(await row.locator("td").nth(1).textContent(), "crawl");
      assert.equal(await row.locator("td").nth(3).textContent(), "2", "the start page and its one same-host link: depth 1");
      await form.getByLabel("Type").selectOption("sitemap");
      assert.ok(!(await form.getByLabel("Most links deep").isVisible()), "a sitemap has no depth");
      assert.deepEqual(await axeViolations(page), [], "knowledge base");
    });
    const bases = await (await fetch(`${worker.url}/api/admin/knowledge-bases`, { headers: { authorization: `Bearer ${secretKey}` } })).json();
    const base = bases.knowledgeBases.find((b) => b.name === "Trail guide");
    const sources = await (await fetch(`${worker.url}/api/admin/knowledge-bases/${base.id}/sources`, { headers: { authorization: `Bearer ${secretKey}` } })).json();
    assert.deepEqual(sources.sources.map((s) => [s.type, s.maxPages, s.maxDepth, s.url]), [["crawl", 10, 1, `${host.origin}/guide/`]]);
  });

  test("the Knowledge page uploads PDF and DOCX files: each shows ready with its chunks, an unreadable one its reason", async () => {
    const pdf = await PDFDocument.create();
    const font = await pdf.embedFont(StandardFonts.Helvetica);
    const page1 = pdf.addPage();
    page1.drawText("Tent care", { x: 50, y: 780, size: 22, font });
    page1.drawText("Dry the Alpine tent before you pack it away.", { x: 50, y: 740, size: 11, font });
    const docx = await Packer.toBuffer(new Document({ sections: [{ children: [
      new Paragraph({ text: "Warranty", heading: HeadingLevel.HEADING_1 }),
      new Paragraph({ text: "Seams are covered for five years.", bullet: { level: 0 } }),
    ] }] }));
    await withPage(browser, "knowledge-files", async (page) => {
      await signIn(page, "#knowledge");
      await page.getByLabel("Name").fill("Manuals");
      await page.getByRole("button", { name: "Create" }).click();
      await page.getByRole("heading", { name: "Manuals" }).waitFor();
      await page.getByLabel("Type").selectOption("file");
      const input = page.getByLabel("File", { exact: true });
      const accept = await input.getAttribute("accept");
      for (const ext of [".pdf", ".docx", ".txt", ".csv"]) assert.ok(accept.split(",").includes(ext), accept);
      const files = [
        { name: "tent-care.pdf", mimeType: "application/pdf", buffer: Buffer.from(await pdf.save()) },
        { name: "warranty.docx", mimeType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", buffer: docx },
      ];
      for (const file of files) {
        // Adding a source resets the form to its first type.
        await page.getByLabel("Type").selectOption("file");
        await input.setInputFiles(file);
        await page.getByRole("button", { name: "Add source" }).click();
        await page.locator("#sources tr", { hasText: file.name }).waitFor();
      }
      for (const file of files) {
        const row = page.locator("#sources tr", { hasText: file.name });
        await assertEventually(async () => (await row.getAttribute("data-status")) === "ready", 20_000);
        assert.equal(await row.locator("td").nth(3).textContent(), "1", `${file.name}: one chunk`);
      }
      await page.getByLabel("Type").selectOption("file");
      await input.setInputFiles({ name: "broken.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.7 nothing here") });
      await page.getByRole("button", { name: "Add source" }).click();
      await assertEventually(async () => /broken\.pdf could not be read: The PDF is damaged/.test(await status(page).textContent()));
      const broken = page.locator("#sources tr", { hasText: "broken.pdf" });
      await broken.waitFor();
      assert.equal(await broken.getAttribute("data-status"), "failed");
      assert.match(await broken.textContent(), /The PDF is damaged/);
      await page.getByLabel("Query").fill("Alpine tent");
      await page.getByRole("button", { name: "Search" }).click();
      await assertEventually(async () => /Dry the Alpine tent/.test(await page.locator("#playground-results").textContent()));
      assert.match(await page.locator("#playground-results").textContent(), /tent-care\.pdf — Tent care/);
    });
  });

  test("signed out, the dashboard shows only the sign-in form, and axe is happy with it", async () => {
    await withPage(browser, "dashboard-signin-axe", async (page) => {
      await page.goto(`${worker.url}/admin/`);
      await page.getByLabel("Secret key").waitFor();
      assert.equal(await page.locator("#nav").isVisible(), false);
      assert.deepEqual(await axeViolations(page), []);
    }, { viewport: { width: 375, height: 667 } });
  });
});
