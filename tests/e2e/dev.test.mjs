// The README's run command: `npm run dev` migrates and seeds a fresh local D1, serves the demo
// page and chats with the demo agent (through wrangler dev, against the local stand-in).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { mcpConfigs } from "../../scripts/dev.mjs";
import { freePort } from "../support/ports.mjs";
import { startStandIn } from "../support/standin.mjs";
import { chat, eventually, textOf } from "../support/chat.mjs";

const root = new URL("../..", import.meta.url).pathname;
let standin;
let dev;
let state;
let base;
let output = "";

before(async () => {
  standin = await startStandIn();
  state = mkdtempSync(join(tmpdir(), "dev-state-"));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  dev = spawn("npm", ["run", "dev"], {
    cwd: root,
    detached: true,
    env: { ...process.env, PORT: String(port), DEV_PERSIST_DIR: state, OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "dev-test-key" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  dev.stdout.on("data", (d) => (output += d));
  dev.stderr.on("data", (d) => (output += d));
  await eventually(() => output.includes("Demo site:") || dev.exitCode !== null, { timeoutMs: 300_000, intervalMs: 200 });
  assert.equal(dev.exitCode, null, `npm run dev exited early:\n${output}`);
});

after(async () => {
  if (dev && dev.exitCode === null) {
    process.kill(-dev.pid, "SIGTERM");
    await new Promise((resolve) => dev.once("exit", resolve));
  }
  await standin?.close();
  if (state) rmSync(state, { recursive: true, force: true });
});

test("npm run dev prints the demo URL and serves the demo site with the widget", async () => {
  assert.match(output, new RegExp(`Demo site: +${base}/`));
  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /Demo Company/);
  assert.match(html, /<script src="\/widget.js" data-key="pk_live_demo" async>/, "the demo site embeds the widget");
  for (const asset of ["/widget.js", "/chat-panel.js", "/chat-panel.css", "/inline.html"]) {
    assert.equal((await fetch(`${base}${asset}`)).status, 200, asset);
  }
  const health = await (await fetch(`${base}/api/health`)).json();
  assert.equal(health.rateLimits, "binding", "wrangler dev simulates the Rate Limiting bindings");
  assert.match(output, /operator key: adm_[0-9a-f]{64}, local only/);
  const demoKey = output.match(/demo tenant key: (sk_live_[0-9a-f]{32})/)?.[1];
  assert.ok(demoKey, "the dashboard key is printed");
  const me = await fetch(`${base}/api/admin/tenant`, { headers: { authorization: `Bearer ${demoKey}` } });
  assert.equal((await me.json()).tenant.id, "demo", "it signs in to the demo tenant");
  assert.equal((await fetch(`${base}/admin/`)).status, 200);
});

test("the seeded demo agent answers with its built-in tools offered", async () => {
  const headers = { "x-publishable-key": "pk_live_demo", origin: base };
  const result = await chat(base, "demo", { chatId: "dev_smoke", text: "Hello?", headers });
  const token = result.headers.get("x-visitor-token");
  assert.ok(token, "the first chat issues a visitor token");
  const stored = await fetch(`${base}/api/agents/demo/conversations/dev_smoke`, { headers: { ...headers, "x-visitor-token": token } });
  assert.equal(stored.status, 200);
  const elsewhere = await fetch(`${base}/api/agents/demo/config`, { headers: { ...headers, origin: "https://elsewhere.example" } });
  assert.equal(elsewhere.status, 403, "only the dev server's own origin is allowed");
  assert.equal(textOf(result.message), "Hello from the stand-in.");
  const upstream = standin.requests.at(-1);
  assert.equal(upstream.headers.authorization, "Bearer dev-test-key", "environment wins over .dev.vars");
  assert.equal(upstream.body.model, "openai/gpt-4o-mini");
  assert.deepEqual(upstream.body.tools.map((t) => t.function.name), ["get_current_time"]);
});

test("the demo tenant's MCP key (what npm run dev:mcp prints) works with the MCP SDK client", async () => {
  const { DEMO_MCP_KEY } = JSON.parse(readFileSync(join(state, "dev-secrets.json"), "utf8"));
  assert.match(DEMO_MCP_KEY, /^mk_live_[0-9a-f]{32}$/);
  const cursor = mcpConfigs(base, DEMO_MCP_KEY)["Cursor (~/.cursor/mcp.json)"].mcpServers["edge-chat"];
  const client = new Client({ name: "dev-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(cursor.url), { requestInit: { headers: cursor.headers } }));
  try {
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === "ask"));
    const asked = await client.callTool({ name: "ask", arguments: { agent: "demo", message: "Hi over MCP" } });
    assert.equal(asked.structuredContent.answer, "Hello from the stand-in.");
  } finally {
    await client.close();
  }
});

test("npm run dev builds once, never restarts wrangler, and ends with the lines that matter", async () => {
  assert.doesNotMatch(output, /changed/i, "wrangler does not rebuild and restart on start");
  assert.doesNotMatch(output, /Running custom build/, "wrangler builds nothing itself");
  const beforeReady = output.slice(0, output.indexOf("Demo site:")).split("\n");
  assert.ok(beforeReady.length < 40, `the summary is not buried (${beforeReady.length} lines before it):\n${output}`);
  const summary = output.slice(output.indexOf("Ready in"));
  assert.match(summary, /Demo site: +http/);
  assert.match(summary, /Dashboard: +http:\/\/127\.0\.0\.1:\d+\/admin\/ +sign in with the demo tenant key: sk_live_/);
});

test("the demo seed keeps dashboard edits on the next start, and adds a new port's origins", async () => {
  const { localSecrets, writeSeed } = await import("../../scripts/dev.mjs");
  const demoKey = output.match(/demo tenant key: (sk_live_[0-9a-f]{32})/)[1];
  const admin = (method, body, headers = {}) => fetch(`${base}/api/admin/agents/demo`, { method, headers: { authorization: `Bearer ${demoKey}`, "content-type": "application/json", ...headers }, body: body && JSON.stringify(body) });
  const loaded = await admin("GET");
  const etag = loaded.headers.get("etag");
  const edited = await admin("PATCH", { config: { welcomeMessage: "Edited in the dashboard", branding: { primaryColor: "#0f766e" } } }, { "if-match": etag });
  assert.equal(edited.status, 200);
  // What the next `npm run dev` does first: the seed, for that run's port.
  const seed = writeSeed(state, 9911, localSecrets(state));
  await new Promise((resolve, reject) => {
    const child = spawn(join(root, "node_modules/.bin/wrangler"), ["d1", "execute", "DB", "--local", "--file", seed, "--persist-to", state], { cwd: root, env: { ...process.env, CI: "true" }, stdio: "ignore" });
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`seed failed: ${code}`))));
  });
  const after = (await (await admin("GET")).json()).agent.config;
  assert.equal(after.welcomeMessage, "Edited in the dashboard", "the edit survives the seed");
  assert.equal(after.branding.primaryColor, "#0f766e");
  assert.ok(after.allowedOrigins.includes("http://127.0.0.1:9911") && after.allowedOrigins.includes(base), after.allowedOrigins.join(", "));
});

test("dev:convex says what to set when Convex is not configured", async () => {
  const env = { ...process.env };
  for (const name of ["CONVEX_DEPLOYMENT", "CONVEX_DEPLOY_KEY", "CONVEX_URL"]) delete env[name];
  const child = spawn(process.execPath, [join(root, "scripts/dev.mjs"), "convex"], { cwd: state, env, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout.on("data", (d) => (text += d));
  child.stderr.on("data", (d) => (text += d));
  const code = await new Promise((resolve) => child.on("exit", resolve));
  assert.equal(code, 1);
  assert.match(text, /Convex is not configured/);
  assert.match(text, /CONVEX_DEPLOYMENT/);
  assert.match(text, /CONVEX_URL and CONVEX_DEPLOY_KEY in \.dev\.vars/);
});

test("dev:widget rebuilds public/ when a widget source changes", async () => {
  const child = spawn(process.execPath, [join(root, "scripts/dev.mjs"), "widget"], { cwd: root, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout.on("data", (d) => (text += d));
  child.stderr.on("data", (d) => (text += d));
  try {
    await eventually(() => text.includes("watching"), { timeoutMs: 60_000, intervalMs: 50 });
    // A save without a content change (only the time) is enough to trigger a rebuild. Saved
    // again each second: on a busy machine the watcher may attach after the first save.
    const file = join(root, "widget/src/i18n.js");
    const touch = () => {
      const now = new Date();
      utimesSync(file, now, now);
    };
    touch();
    const again = setInterval(touch, 1_000);
    try {
      await eventually(() => /↻ site and widget rebuilt in \d+ ms/.test(text), { timeoutMs: 30_000, intervalMs: 50 });
    } finally {
      clearInterval(again);
    }
  } finally {
    process.kill(-child.pid, "SIGTERM");
  }
});
