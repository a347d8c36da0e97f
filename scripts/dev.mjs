// `npm run dev`: installs what is missing, prepares the local D1 database with the demo tenant,
// and serves the worker with `wrangler dev` (which builds it through wrangler.toml's [build]).
//
// PORT (default 8787), OPENROUTER_BASE_URL, OPENROUTER_API_KEY, APP_URL, APP_TITLE,
// MODEL_IDLE_TIMEOUT_MS, STREAM_BATCH_MS, WEBHOOK_ALLOW_HOSTS, CONVEX_URL and CONVEX_DEPLOY_KEY
// (Convex as the store; the demo tenant is copied there) from the environment win over
// .dev.vars.
// DEV_PERSIST_DIR moves the local state (D1 database) away from .wrangler/state.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { npmBin, root, run, step } from "./lib.mjs";
import { setup } from "./setup.mjs";

const OVERRIDES = ["OPENROUTER_BASE_URL", "OPENROUTER_API_KEY", "APP_URL", "APP_TITLE", "MODEL_IDLE_TIMEOUT_MS", "STREAM_BATCH_MS", "WEBHOOK_ALLOW_HOSTS", "CONVEX_URL", "CONVEX_DEPLOY_KEY"];

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

/**
 * Local-only secrets, generated once per state directory and kept there (never in the repo):
 * the visitor-token secret, an operator key, and the demo tenant's identity and signing secrets.
 */
function localSecrets(stateDir) {
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
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

/** The demo seed with this run's port and the local secrets filled in. */
function writeSeed(stateDir, port, secrets) {
  const sql = readFileSync(join(root, "seed", "demo.sql"), "utf8")
    .replaceAll("{{PORT}}", String(Number(port)))
    .replaceAll("{{IDENTITY_SECRET}}", secrets.IDENTITY_SECRET)
    .replaceAll("{{SIGNING_SECRET}}", secrets.SIGNING_SECRET)
    .replaceAll("{{DEMO_KEY_LOOKUP}}", secrets.DEMO_SECRET_KEY.slice(0, 16))
    .replaceAll("{{DEMO_KEY_HASH}}", createHash("sha256").update(secrets.DEMO_SECRET_KEY).digest("hex"))
    .replaceAll("{{DEMO_KEY_MASKED}}", `${secrets.DEMO_SECRET_KEY.slice(0, 16)}…${secrets.DEMO_SECRET_KEY.slice(-4)}`);
  const file = join(stateDir, "seed.sql");
  writeFileSync(file, sql, { mode: 0o600 });
  return file;
}

/** .dev.vars with environment overrides, written where wrangler reads it via --env-file. */
function writeDevEnv(secrets) {
  const devVars = join(root, ".dev.vars");
  const vars = existsSync(devVars) ? parseDotEnv(readFileSync(devVars, "utf8")) : {};
  for (const name of OVERRIDES) {
    if (process.env[name]) vars[name] = process.env[name];
  }
  vars.VISITOR_TOKEN_SECRET ||= secrets.VISITOR_TOKEN_SECRET;
  vars.ADMIN_API_KEY ||= secrets.ADMIN_API_KEY;
  mkdirSync(join(root, ".wrangler"), { recursive: true });
  const file = join(root, ".wrangler", "dev.env");
  writeFileSync(file, Object.entries(vars).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join("\n") + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
  return { file, vars };
}

async function waitForHealth(url, child) {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) return null;
    try {
      const res = await fetch(`${url}/api/health`);
      if (res.ok) return await res.json();
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
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

async function main() {
  await setup();
  const wrangler = npmBin("wrangler");
  const persist = process.env.DEV_PERSIST_DIR ? ["--persist-to", process.env.DEV_PERSIST_DIR] : [];
  const quiet = { env: { ...process.env, CI: "true" } };
  step("Applying D1 migrations to the local database");
  await run(wrangler, ["d1", "migrations", "apply", "DB", "--local", ...persist], quiet);
  const port = process.env.PORT || "8787";
  const stateDir = process.env.DEV_PERSIST_DIR || join(root, ".wrangler", "state");
  const secrets = localSecrets(stateDir);
  step("Seeding the demo tenant and agent `demo`");
  await run(wrangler, ["d1", "execute", "DB", "--local", "--file", writeSeed(stateDir, port, secrets), ...persist], quiet);

  const { file, vars } = writeDevEnv(secrets);
  if (vars.CONVEX_URL && vars.CONVEX_DEPLOY_KEY) await seedConvex(vars, persist);
  const url = `http://127.0.0.1:${port}`;
  step(`Starting wrangler dev on ${url}`);
  const child = spawn(wrangler, ["dev", "--ip", "127.0.0.1", "--port", port, "--env-file", file, ...persist], {
    cwd: root,
    stdio: "inherit",
  });
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code) => process.exit(code ?? 0));

  const health = await waitForHealth(url, child);
  if (!health) return;
  console.log(`\n  Demo site:   ${url}/`);
  console.log(`  Chat API:    POST ${url}/api/agents/demo/chat  (x-publishable-key: pk_live_demo)`);
  console.log(`  Dashboard:   ${url}/admin/  (demo tenant key: ${secrets.DEMO_SECRET_KEY}, local only)`);
  console.log(`  Admin API:   ${url}/api/admin/…  (operator key: ${vars.ADMIN_API_KEY === secrets.ADMIN_API_KEY ? `${secrets.ADMIN_API_KEY}, local only` : "ADMIN_API_KEY from .dev.vars"})`);
  if (!health.model?.configured) {
    console.log("\n  No model configured: put OPENROUTER_API_KEY=sk-or-... in .dev.vars (see .dev.vars.example),");
    console.log("  or point OPENROUTER_BASE_URL at any OpenAI-compatible server, then restart.");
  } else if (vars.OPENROUTER_BASE_URL) {
    console.log(`  Model API:   ${vars.OPENROUTER_BASE_URL}`);
  }
  console.log("");
}

main().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
