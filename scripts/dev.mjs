// `npm run dev` and its parts (the chat worker and the admin worker it reaches by service binding):
//
//   npm run dev             everything below at once
//   npm run dev:worker      local D1 (migrations, demo seed), the worker under `wrangler dev`,
//                           rebuilt when src/ changes
//   npm run dev:widget      rebuilds the widget and demo site into public/ on every change
//   npm run dev:dashboard   rebuilds the dashboard into public/admin/ on every change
//   npm run dev:mcp         like dev:worker, and prints the MCP URL, a local MCP key and client
//                           configurations (Cursor, VS Code, Claude Desktop)
//   npm run dev:convex      `npx convex dev` when Convex is configured; otherwise says what to set
//
// The worker is built once here, before `wrangler dev` starts, and wrangler runs with a config
// without a [build] step: with one, wrangler rebuilt everything a second time on start ("src,
// widget changed"). A worker build newer than every source is reused, so a warm start skips
// cargo. The tool output (migrations, seed, wrangler's banner) is kept back, and shown only when
// a step fails or DEV_VERBOSE=1, so the lines that matter (site, dashboard and key) come last.
//
// PORT (default 8787), OPENROUTER_BASE_URL, OPENROUTER_API_KEY, APP_URL, APP_TITLE,
// MODEL_IDLE_TIMEOUT_MS, STREAM_BATCH_MS, WEBHOOK_ALLOW_HOSTS, CONVEX_URL and CONVEX_DEPLOY_KEY
// (Convex as the store; the demo tenant is copied there), EMBEDDINGS_* and KNOWLEDGE_*, and the
// tracing variables (LANGFUSE_*, OTEL_EXPORTER_OTLP_*, OTEL_TRACES_SAMPLER_ARG, TRACE_CAPTURE_CONTENT)
// from the environment win over .dev.vars. DEV_PERSIST_DIR moves the local state (D1 database)
// away from .wrangler/state.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, watch, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { npmBin, root, step } from "./lib.mjs";
import { setup, setupNpm } from "./setup.mjs";
import { WORKERS, workerBuildArgs, workerBuildEnv } from "./build.mjs";

const OVERRIDES = ["OPENROUTER_BASE_URL", "OPENROUTER_API_KEY", "APP_URL", "APP_TITLE", "MODEL_IDLE_TIMEOUT_MS", "STREAM_BATCH_MS", "WEBHOOK_ALLOW_HOSTS", "CONVEX_URL", "CONVEX_DEPLOY_KEY",
  "EMBEDDINGS_BASE_URL", "EMBEDDINGS_API_KEY", "EMBEDDINGS_MODEL", "EMBEDDINGS_DIMENSIONS", "EMBEDDINGS_INPUT_TYPE", "KNOWLEDGE_RESYNC_HOURS", "KNOWLEDGE_RETRY_DELAY_SECONDS",
  // Tracing (docs/observability.md), under the names Langfuse and OpenTelemetry users know.
  "LANGFUSE_HOST", "LANGFUSE_BASE_URL", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
  "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_TRACES_SAMPLER_ARG", "TRACE_CAPTURE_CONTENT"];
const VERBOSE = process.env.DEV_VERBOSE === "1";

function parseDotEnv(text) {
  const vars = {};
  for (const line of text.split(/\r?\n/)) {
    const match = line.match(/^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)\s*$/);
    if (!match) continue;
    let value = match[2];
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1);
    vars[match[1]] = value;
  }
  return vars;
}

const readEnvFile = (name) => (existsSync(join(root, name)) ? parseDotEnv(readFileSync(join(root, name), "utf8")) : {});

/**
 * Runs a tool with its output kept back: shown when it fails (or with DEV_VERBOSE=1), so a
 * normal start is a handful of lines.
 */
function quietly(cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: VERBOSE ? "inherit" : ["ignore", "pipe", "pipe"], ...options });
    let output = "";
    child.stdout?.on("data", (d) => (output += d));
    child.stderr?.on("data", (d) => (output += d));
    // Long steps (the first cargo build) say they are still going.
    const started = Date.now();
    const tick = setInterval(() => console.log(`  … still working (${Math.round((Date.now() - started) / 1000)} s)`), 20_000);
    child.on("error", (error) => {
      clearInterval(tick);
      reject(new Error(`could not start ${cmd}: ${error.message}`));
    });
    child.on("exit", (code, signal) => {
      clearInterval(tick);
      if (code === 0) return resolve(output);
      if (output) process.stderr.write(output);
      reject(new Error(`${cmd} ${args.join(" ")} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

/**
 * Local-only secrets, generated once per state directory and kept there (never in the repo):
 * the visitor-token secret, an operator key, and the demo tenant's identity and signing secrets.
 */
export function localSecrets(stateDir) {
  mkdirSync(stateDir, { recursive: true });
  const file = join(stateDir, "dev-secrets.json");
  const secrets = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
  const make = (prefix) => `${prefix}${randomBytes(32).toString("hex")}`;
  secrets.VISITOR_TOKEN_SECRET ??= make("");
  secrets.ADMIN_API_KEY ??= make("adm_");
  secrets.IDENTITY_SECRET ??= make("idsec_");
  secrets.SIGNING_SECRET ??= make("whsec_");
  // The demo tenant's secret key, for the dashboard at /admin/ (stored hashed, like any key).
  secrets.DEMO_SECRET_KEY ??= `sk_live_${randomBytes(16).toString("hex")}`;
  // The demo tenant's MCP key, for MCP clients (`npm run dev:mcp` prints it).
  secrets.DEMO_MCP_KEY ??= `mk_live_${randomBytes(16).toString("hex")}`;
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

/** The demo seed with this run's port and the local secrets filled in. */
export function writeSeed(stateDir, port, secrets) {
  const sql = readFileSync(join(root, "seed", "demo.sql"), "utf8")
    .replaceAll("{{PORT}}", String(Number(port)))
    .replaceAll("{{IDENTITY_SECRET}}", secrets.IDENTITY_SECRET)
    .replaceAll("{{SIGNING_SECRET}}", secrets.SIGNING_SECRET)
    .replaceAll("{{DEMO_KEY_LOOKUP}}", secrets.DEMO_SECRET_KEY.slice(0, 16))
    .replaceAll("{{DEMO_KEY_HASH}}", createHash("sha256").update(secrets.DEMO_SECRET_KEY).digest("hex"))
    .replaceAll("{{DEMO_KEY_MASKED}}", `${secrets.DEMO_SECRET_KEY.slice(0, 16)}…${secrets.DEMO_SECRET_KEY.slice(-4)}`)
    .replaceAll("{{DEMO_MCP_LOOKUP}}", secrets.DEMO_MCP_KEY.slice(0, 16))
    .replaceAll("{{DEMO_MCP_HASH}}", createHash("sha256").update(secrets.DEMO_MCP_KEY).digest("hex"))
    .replaceAll("{{DEMO_MCP_MASKED}}", `${secrets.DEMO_MCP_KEY.slice(0, 16)}…${secrets.DEMO_MCP_KEY.slice(-4)}`);
  const file = join(stateDir, "seed.sql");
  writeFileSync(file, sql, { mode: 0o600 });
  return file;
}

/**
 * .dev.vars with environment overrides, written beside the generated configs: wrangler reads a
 * config's neighbouring .dev.vars for each worker (`--env-file` reaches only the first), so the
 * chat and admin workers get the same secrets, as in production.
 */
function writeDevEnv(secrets) {
  const vars = readEnvFile(".dev.vars");
  for (const name of OVERRIDES) {
    if (process.env[name]) vars[name] = process.env[name];
  }
  vars.VISITOR_TOKEN_SECRET ||= secrets.VISITOR_TOKEN_SECRET;
  vars.ADMIN_API_KEY ||= secrets.ADMIN_API_KEY;
  mkdirSync(join(root, ".wrangler"), { recursive: true });
  const file = join(root, ".wrangler", ".dev.vars");
  writeFileSync(file, Object.entries(vars).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join("\n") + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
  return { file, vars };
}

/**
 * A wrangler config (wrangler.toml, wrangler.admin.toml) without its [build] step and with
 * absolute paths, for `wrangler dev`: this script builds, so wrangler must not build (and
 * restart) again.
 */
function devConfig(name) {
  const text = readFileSync(join(root, name), "utf8");
  const out = [];
  let inBuild = false;
  for (const line of text.split("\n")) {
    if (/^\s*\[/.test(line)) inBuild = /^\s*\[build\]\s*$/.test(line);
    if (inBuild) continue;
    out.push(line.replace(/^(\s*(?:main|directory|migrations_dir)\s*=\s*)"([^"]+)"/, (_, key, path) => `${key}${JSON.stringify(join(root, path))}`));
  }
  const file = join(root, ".wrangler", `dev.${name}`);
  mkdirSync(join(root, ".wrangler"), { recursive: true });
  writeFileSync(file, `# Generated by scripts/dev.mjs from ${name} (no [build]: dev.mjs builds). Do not edit.\n${out.join("\n")}`);
  return file;
}

/** Newest modification time under `paths` (files or directories), ms. */
function newest(paths) {
  let latest = 0;
  const visit = (path) => {
    if (!existsSync(path)) return;
    const stat = statSync(path);
    if (stat.isDirectory()) for (const entry of readdirSync(path)) visit(join(path, entry));
    else latest = Math.max(latest, stat.mtimeMs);
  };
  paths.forEach(visit);
  return latest;
}

const WORKER_SOURCES = ["src", "Cargo.toml", "Cargo.lock"].map((p) => join(root, p));
const WORKER_OUTPUTS = WORKERS.flatMap(({ outDir }) => [`${outDir}/index.js`, `${outDir}/index_bg.wasm`]).map((p) => join(root, p));

function workerBuildFresh() {
  if (!WORKER_OUTPUTS.every(existsSync)) return false;
  return Math.min(...WORKER_OUTPUTS.map((f) => statSync(f).mtimeMs)) > newest(WORKER_SOURCES);
}

async function buildWorker() {
  const started = Date.now();
  for (const worker of WORKERS) await quietly("worker-build", workerBuildArgs(worker), { env: workerBuildEnv() });
  return Date.now() - started;
}

/** Calls `fn` (one run at a time, coalescing bursts) whenever something under `dirs` changes. */
function onChange(dirs, label, fn) {
  let timer = null;
  let running = false;
  let again = false;
  const fire = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    const started = Date.now();
    try {
      await fn();
      console.log(`  ↻ ${label} rebuilt in ${Date.now() - started} ms`);
    } catch (error) {
      console.error(`  ✗ ${label}: ${error.message}`);
    }
    running = false;
    if (again) {
      again = false;
      fire();
    }
  };
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    // Recursive fs.watch works on Linux from Node 20, on macOS and Windows always.
    watch(dir, { recursive: true }, () => {
      clearTimeout(timer);
      timer = setTimeout(fire, 150);
    });
  }
}

async function waitForHealth(url, child) {
  for (let i = 0; i < 1200; i++) {
    if (child.exitCode !== null) return null;
    try {
      const res = await fetch(`${url}/api/health`);
      if (res.ok) return await res.json();
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

/** With Convex as the store, copies the seeded demo tenant from the local D1 unless Convex has it. */
async function seedConvex(vars, persist) {
  const { convexFromEnv, d1FromWrangler, exportD1, importConvex } = await import("./transfer.mjs");
  process.env.CONVEX_URL = vars.CONVEX_URL;
  process.env.CONVEX_DEPLOY_KEY = vars.CONVEX_DEPLOY_KEY;
  const convex = convexFromEnv();
  if (await convex.query("tenants:get", { tenantId: "demo" })) return;
  step(`Seeding the demo tenant into Convex (${vars.CONVEX_URL})`);
  const data = await exportD1(d1FromWrangler(["--local", ...persist]));
  const demo = (row) => row.tenantId === "demo" || row.id === "demo";
  await importConvex(convex, { ...data, tables: Object.fromEntries(Object.entries(data.tables).map(([t, rows]) => [t, rows.filter(demo)])) });
}

/** The worker: local D1, demo seed, one build, `wrangler dev`, rebuilt when src/ changes. */
async function worker({ assets, watchAssets = false, mcp = false }) {
  const started = Date.now();
  await setup();
  const wrangler = npmBin("wrangler");
  const stateDir = process.env.DEV_PERSIST_DIR || join(root, ".wrangler", "state");
  // Always explicit: the generated config lives elsewhere, and wrangler's default state
  // directory is relative to its config.
  const persist = ["--persist-to", stateDir];
  const quiet = { env: { ...process.env, CI: "true" } };
  step("Local D1: migrations and the demo tenant");
  await quietly(wrangler, ["d1", "migrations", "apply", "DB", "--local", ...persist], quiet);
  const port = process.env.PORT || "8787";
  const secrets = localSecrets(stateDir);
  await quietly(wrangler, ["d1", "execute", "DB", "--local", "--file", writeSeed(stateDir, port, secrets), ...persist], quiet);

  if (assets) {
    const { buildWidget } = await import("./build-widget.mjs");
    await buildWidget({ quiet: true });
  }
  if (workerBuildFresh()) {
    step("The worker build is up to date (build/ is newer than src/)");
  } else {
    step("Building the worker (worker-build --release; the first build compiles the crates and takes minutes)");
    console.log(`  built in ${Math.round((await buildWorker()) / 1000)} s`);
  }

  const { vars } = writeDevEnv(secrets);
  if (vars.CONVEX_URL && vars.CONVEX_DEPLOY_KEY) await seedConvex(vars, persist);
  const url = `http://127.0.0.1:${port}`;
  step(`Starting wrangler dev on ${url}`);
  // The chat worker first (it answers on the port), then the admin worker it reaches through ADMIN.
  const configs = ["wrangler.toml", "wrangler.admin.toml"].flatMap((name) => ["--config", devConfig(name)]);
  const child = spawn(wrangler, ["dev", ...configs, "--ip", "127.0.0.1", "--port", port, ...persist], {
    cwd: root,
    stdio: VERBOSE ? "inherit" : ["inherit", "pipe", "pipe"],
  });
  // Until the worker answers, wrangler's banner is kept back; afterwards its lines (requests,
  // logs, errors) pass through.
  let ready = false;
  let held = "";
  const pass = (stream) => (d) => {
    if (ready) stream.write(d);
    else held += d;
  };
  child.stdout?.on("data", pass(process.stdout));
  child.stderr?.on("data", pass(process.stderr));
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code) => {
    if (!ready && held) process.stderr.write(held);
    process.exit(code ?? 0);
  });

  const health = await waitForHealth(url, child);
  if (!health) return;
  ready = true;
  console.log(`\n  Ready in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  console.log(`  Demo site:   ${url}/   (and ${url}/inline.html)`);
  console.log(`  Dashboard:   ${url}/admin/   sign in with the demo tenant key: ${secrets.DEMO_SECRET_KEY}  (local only)`);
  console.log(`  Chat API:    POST ${url}/api/agents/demo/chat  (x-publishable-key: pk_live_demo)`);
  console.log(`  OpenAI API:  ${url}/v1  (model "demo"; the demo tenant key works, or create an API key under Keys)`);
  console.log(`  Admin API:   ${url}/api/admin/…  (operator key: ${vars.ADMIN_API_KEY === secrets.ADMIN_API_KEY ? `${secrets.ADMIN_API_KEY}, local only` : "ADMIN_API_KEY from .dev.vars"})`);
  if (!health.model?.configured) {
    console.log("\n  No model configured: put OPENROUTER_API_KEY=sk-or-... in .dev.vars (see .dev.vars.example),");
    console.log("  or point OPENROUTER_BASE_URL at any OpenAI-compatible server, then restart.");
  } else if (vars.OPENROUTER_BASE_URL) {
    console.log(`  Model API:   ${vars.OPENROUTER_BASE_URL}`);
  }
  if (mcp) printMcp(url, secrets.DEMO_MCP_KEY);
  console.log("  Watching src/ (worker)" + (watchAssets ? ", widget/ and dashboard/ (assets)" : "") + ". DEV_VERBOSE=1 shows all tool output.\n");
  // wrangler dev reloads when build/ changes.
  onChange([join(root, "src")], "worker", buildWorker);
}

/** The MCP endpoints, the local MCP key and client configurations to paste. */
export function mcpConfigs(url, key) {
  const endpoint = `${url}/mcp`;
  const auth = `Bearer ${key}`;
  return {
    "Cursor (~/.cursor/mcp.json)": { mcpServers: { "edge-chat": { url: endpoint, headers: { Authorization: auth } } } },
    "VS Code (.vscode/mcp.json)": { servers: { "edge-chat": { type: "http", url: endpoint, headers: { Authorization: auth } } } },
    "Claude Desktop (claude_desktop_config.json, through mcp-remote)": {
      mcpServers: { "edge-chat": { command: "npx", args: ["mcp-remote", endpoint, "--header", "Authorization:${AUTH}"], env: { AUTH: auth } } },
    },
  };
}

function printMcp(url, key) {
  console.log(`\n  MCP server:  ${url}/mcp  (every demo agent; one agent: ${url}/mcp/demo)`);
  console.log(`  MCP key:     ${key}  (tenant-wide, local only)`);
  for (const [client, config] of Object.entries(mcpConfigs(url, key))) {
    console.log(`\n  ${client}:\n${JSON.stringify(config, null, 2).replace(/^/gm, "    ")}`);
  }
  console.log("");
}

/** Rebuilds a part of public/ whenever its sources change. */
async function assets(part, dirs, { initial = true } = {}) {
  await setupNpm();
  const { PARTS, PUBLIC } = await import("./build-widget.mjs");
  mkdirSync(PUBLIC, { recursive: true });
  const build = () => Promise.all([].concat(part).map((p) => PARTS[p]()));
  if (initial) {
    const started = Date.now();
    await build();
    console.log(`  ${[].concat(part).join(" and ")} built into public/ in ${Date.now() - started} ms; watching ${dirs.map((d) => d.replace(`${root}/`, "")).join(", ")}`);
  }
  onChange(dirs, [].concat(part).join(" and "), build);
}

/** Whether the Convex CLI has a deployment to develop against. */
function convexConfigured() {
  const env = { ...readEnvFile(".dev.vars"), ...readEnvFile(".env.local"), ...process.env };
  return Boolean(env.CONVEX_DEPLOYMENT || env.CONVEX_DEPLOY_KEY);
}

const CONVEX_HINT = [
  "Convex is not configured, so `convex dev` has nothing to push to. Without it the worker uses",
  "the local D1 database, which needs no account. To develop against Convex:",
  "  - run `npx convex dev` once: it signs you in, creates a dev deployment and writes",
  "    CONVEX_DEPLOYMENT to .env.local (or set CONVEX_DEPLOY_KEY to a dev deploy key);",
  "  - for the worker to use it, set CONVEX_URL and CONVEX_DEPLOY_KEY in .dev.vars",
  "    (docs/convex.md; `npx convex dev --local` runs the open-source backend on your machine).",
].join("\n");

/** `npx convex dev` (push convex/ on every change), when there is a deployment. */
function convex({ required }) {
  if (!convexConfigured()) {
    if (required) {
      console.error(CONVEX_HINT);
      process.exit(1);
    }
    return;
  }
  step("Convex: `convex dev` pushes convex/ on every change");
  const child = spawn(npmBin("convex"), ["dev"], { cwd: root, stdio: "inherit" });
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  if (required) child.on("exit", (code) => process.exit(code ?? 0));
}

async function main() {
  const mode = process.argv[2] || "all";
  const widgetDirs = [join(root, "widget")];
  // The dashboard renders transcripts with the widget's Markdown module.
  const dashboardDirs = [join(root, "dashboard"), join(root, "widget", "src")];
  switch (mode) {
    case "worker":
      return worker({ assets: true });
    case "mcp":
      return worker({ assets: true, mcp: true });
    case "widget":
      return assets(["site", "widget"], widgetDirs);
    case "dashboard":
      return assets("dashboard", dashboardDirs);
    case "convex":
      return convex({ required: true });
    case "all":
      await worker({ assets: true, watchAssets: true });
      await assets(["site", "widget"], widgetDirs, { initial: false });
      await assets("dashboard", dashboardDirs, { initial: false });
      return convex({ required: false });
    default:
      throw new Error(`unknown dev mode "${mode}": use worker, widget, dashboard, mcp or convex (or nothing for all)`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.error(error.message);
    process.exit(1);
  });
}
