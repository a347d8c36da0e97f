// Fuzzes the running worker against its own OpenAPI document with Schemathesis: server errors,
// undocumented statuses, wrong content types and answers that break their documented schema.
//
//   node tests/fuzz/run.mjs [--max-examples N] [--seed N] [--workers N] [-- <more st run options>]
//
// Needs build/ and public/ (node scripts/build.mjs); builds nothing. Installs the pinned
// Schemathesis into .cache/schemathesis-venv on first use. See tests/fuzz/README.md.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { Agent, createServer, request as httpRequest } from "node:http";
import { join } from "node:path";
import { isDeepStrictEqual, parseArgs } from "node:util";
import { startWorker, putAgent, TEST_ORIGIN, testKey } from "../support/worker.mjs";
import { startStandIn } from "../support/standin.mjs";

const root = new URL("../..", import.meta.url).pathname;
const here = join(root, "tests/fuzz");
/** The Schemathesis this harness is written against (its CLI flags and config keys). */
const SCHEMATHESIS_VERSION = "4.32.5";
const VENV = join(root, ".cache/schemathesis-venv");
const REPORT_DIR = join(root, ".cache/fuzz-report");

const { values: options, positionals: extra } = parseArgs({
  options: {
    "max-examples": { type: "string", default: process.env.FUZZ_MAX_EXAMPLES ?? "100" },
    seed: { type: "string", default: process.env.FUZZ_SEED },
    // One worker: with two, Hypothesis (on CPython 3.11.7) sometimes died on "AST constructor
    // recursion depth mismatch" in its threads, and two were no faster on 2 cores anyway.
    workers: { type: "string", default: process.env.FUZZ_WORKERS ?? "1" },
    "time-limit": { type: "string", default: process.env.FUZZ_TIME_LIMIT ?? "900" },
  },
  allowPositionals: true,
});

const log = (message) => console.log(`[fuzz] ${message}`);
const started = Date.now();
const seconds = () => `${Math.round((Date.now() - started) / 1000)} s`;

// ---------------------------------------------------------------------------------------------
// Schemathesis in its own virtual environment

function installedVersion() {
  const python = join(VENV, "bin/python");
  if (!existsSync(python)) return null;
  const probe = spawnSync(python, ["-c", "import importlib.metadata as m; print(m.version('schemathesis'))"], { encoding: "utf8" });
  return probe.status === 0 ? probe.stdout.trim() : null;
}

function ensureSchemathesis() {
  const version = installedVersion();
  if (version === SCHEMATHESIS_VERSION) return;
  log(version ? `schemathesis ${version} found, installing ${SCHEMATHESIS_VERSION}` : `installing schemathesis ${SCHEMATHESIS_VERSION} into .cache/schemathesis-venv`);
  const python = process.env.PYTHON ?? "python3";
  const run = (command, args) => {
    const result = spawnSync(command, args, { stdio: "inherit" });
    if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.error?.message ?? `exit ${result.status}`})`);
  };
  if (!existsSync(join(VENV, "bin/python"))) {
    mkdirSync(join(root, ".cache"), { recursive: true });
    run(python, ["-m", "venv", VENV]);
  }
  run(join(VENV, "bin/python"), ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", `schemathesis==${SCHEMATHESIS_VERSION}`]);
}

// ---------------------------------------------------------------------------------------------
// A guard between Schemathesis and the worker

/**
 * Every string holding `://` in a JSON body becomes `safeUrl`, so no generated webhook makes the
 * worker fetch anything but the local stand-in. Returns the body to forward (the original bytes
 * when nothing had to change).
 */
function defuseUrls(raw, safeUrl) {
  if (raw.length === 0) return raw;
  let value;
  try {
    value = JSON.parse(raw.toString("utf8"));
  } catch {
    return raw; // not JSON: the worker refuses it without reading any field
  }
  let changed = false;
  const walk = (node) => {
    if (typeof node === "string") {
      if (node.includes("://")) {
        changed = true;
        return safeUrl;
      }
      return node;
    }
    if (Array.isArray(node)) return node.map(walk);
    if (node && typeof node === "object") {
      const out = {};
      for (const [k, v] of Object.entries(node)) out[k] = walk(v);
      return out;
    }
    return node;
  };
  const safe = walk(value);
  return changed ? Buffer.from(JSON.stringify(safe)) : raw;
}

/**
 * Where a request body can make the worker call a URL at once: the tool test endpoint calls the
 * webhook of its `tool`. (Agents the fuzzer creates are never chatted with: chat requests all
 * name the run's own agent, whose tools call the stand-in.)
 */
const CALLS_URLS = /tools/i; // matched loosely: on any path that may reach it, however spelled

/** A loopback proxy to `target` that defuses URLs in tool test bodies; counts what it rewrote. */
async function startGuard(target, safeUrl) {
  const stats = { requests: 0, defused: 0, seen: [] };
  const upstream = new URL(target);
  // A fresh connection per request: workerd may close an idle kept-alive one just as it is reused.
  const agent = new Agent({ keepAlive: false });
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      stats.requests += 1;
      const raw = Buffer.concat(chunks);
      const body = CALLS_URLS.test(req.url) ? defuseUrls(raw, safeUrl) : raw;
      if (body !== raw) stats.defused += 1;
      const headers = { ...req.headers, host: upstream.host };
      for (const hop of ["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection"]) delete headers[hop];
      if (body.length > 0 || req.headers["content-length"] !== undefined) headers["content-length"] = String(body.length);
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent },
        (answer) => {
          stats.seen.push([req.method, req.url.split("?")[0], answer.statusCode]);
          res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
          answer.pipe(res);
        },
      );
      forward.on("error", (error) => {
        if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
        res.end(`fuzz guard: ${error.message}`);
      });
      forward.end(body);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, stats, close: () => new Promise((resolve) => server.close(resolve)) };
}

// ---------------------------------------------------------------------------------------------
// What the run stands on: a tenant, an agent with a webhook tool, a visitor with a rated answer

async function call(base, path, { method = "GET", headers = {}, body } = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, text, json };
}

function expect(res, status, what) {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${res.text.slice(0, 500)}`);
  return res;
}

async function prepare(worker, standin, adminKey) {
  const tenant = expect(
    await call(worker.url, "/api/admin/tenants", { method: "POST", headers: { authorization: `Bearer ${adminKey}` }, body: { name: "Fuzz tenant" } }),
    201,
    "creating the tenant",
  ).json;
  const spare = expect(
    await call(worker.url, "/api/admin/tenants", { method: "POST", headers: { authorization: `Bearer ${adminKey}` }, body: { name: "Spare tenant" } }),
    201,
    "creating the spare tenant",
  ).json;
  const agentId = "fuzz-agent";
  const toolName = "lookup_order";
  await putAgent(worker.db, {
    id: agentId,
    tenant: tenant.tenant.id,
    config: {
      name: "Fuzz agent",
      model: "scenario/plain",
      welcomeMessage: "Hi!",
      phone: { enabled: true, handoffNumber: "+15551234567" },
      tools: {
        webhooks: [
          {
            name: toolName,
            description: "Looks up an order.",
            parameters: { type: "object", properties: { orderId: { type: "string" } } },
            url: `${standin.url}/hooks/order`,
            headers: { "x-api-key": "hook-secret" },
          },
        ],
      },
    },
  });
  // The agent the document's chat completion example names, so the OpenAI-compatible API's
  // examples reach a 200 (the run's tenant key is also the /v1 key: a secret key works there).
  await putAgent(worker.db, { id: "support", tenant: tenant.tenant.id, config: { name: "Support", model: "scenario/plain" } });
  expect(
    await call(worker.url, "/api/admin/integrations/twilio", {
      method: "PUT",
      headers: { authorization: `Bearer ${tenant.secretKey}` },
      body: { accountSid: `AC${"f".repeat(32)}`, authToken: "0123456789abcdef0123456789abcdef" },
    }),
    200,
    "setting up Twilio",
  );
  const widget = { "x-publishable-key": testKey(agentId), origin: TEST_ORIGIN };
  const visitor = expect(await call(worker.url, `/api/agents/${agentId}/visitor`, { method: "POST", headers: widget, body: {} }), 200, "issuing a visitor token").json;
  const conversationId = "fuzz-conversation";
  const chat = expect(
    await call(worker.url, `/api/agents/${agentId}/chat`, {
      method: "POST",
      headers: { ...widget, "x-visitor-token": visitor.token },
      body: { id: conversationId, messages: [{ id: "fuzz-question", role: "user", parts: [{ type: "text", text: "Where is my order?" }] }] },
    }),
    200,
    "a first chat turn",
  );
  const startEvent = chat.text.split("\n").find((line) => line.includes('"type":"start"'));
  const answerId = startEvent ? JSON.parse(startEvent.slice("data: ".length)).messageId : null;
  if (!answerId) throw new Error(`the first chat turn streamed no start event: ${chat.text.slice(0, 500)}`);
  // The answer is stored after the stream ends.
  for (let i = 0; ; i++) {
    const res = await call(worker.url, `/api/agents/${agentId}/conversations/${conversationId}`, { headers: { ...widget, "x-visitor-token": visitor.token } });
    if (res.status === 200 && res.json.messages.some((m) => m.id === answerId)) break;
    if (i === 50) throw new Error(`the first answer was not stored: ${res.status} ${res.text.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(
    await call(worker.url, `/api/agents/${agentId}/conversations/${conversationId}/messages/${answerId}/feedback`, {
      method: "POST",
      headers: { ...widget, "x-visitor-token": visitor.token },
      body: { rating: "up" },
    }),
    200,
    "rating the first answer",
  );
  // The OpenAI-compatible operations call with an API key of their own, whose limit the run
  // does not exhaust (the tenant key's default of 300 a minute would turn most into 429s).
  const apiKey = expect(
    await call(worker.url, "/api/admin/keys", { method: "POST", headers: { authorization: `Bearer ${tenant.secretKey}` }, body: { kind: "api", name: "fuzz", perMinute: 6000 } }),
    201,
    "creating the API key",
  ).json.value;
  return {
    FUZZ_API_KEY: apiKey,
    FUZZ_TENANT_KEY: tenant.secretKey,
    FUZZ_TENANT_ID: tenant.tenant.id,
    FUZZ_SPARE_TENANT_ID: spare.tenant.id,
    FUZZ_ADMIN_KEY: adminKey,
    FUZZ_PUBLISHABLE_KEY: testKey(agentId),
    FUZZ_ORIGIN: TEST_ORIGIN,
    FUZZ_AGENT_ID: agentId,
    FUZZ_TOOL_NAME: toolName,
    FUZZ_VISITOR_TOKEN: visitor.token,
    FUZZ_CONVERSATION_ID: conversationId,
    FUZZ_ANSWER_ID: answerId,
    // The MCP server refuses browser calls from other origins: its requests carry its own.
    FUZZ_SELF_ORIGIN: worker.url,
  };
}

// ---------------------------------------------------------------------------------------------
// The run

/** Schemathesis while it runs, so Ctrl-C stops it and the cleanup still runs. */
let running = null;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    if (running) running.kill("SIGTERM");
    else process.exit(130);
  });
}

function runSchemathesis(args, env, timeLimitSec) {
  return new Promise((resolve) => {
    const child = spawn(join(VENV, "bin/st"), args, { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, ...env } });
    running = child;
    const timer = setTimeout(() => {
      log(`schemathesis still runs after ${timeLimitSec} s: stopping it`);
      child.kill("SIGTERM");
    }, timeLimitSec * 1000);
    child.on("exit", (code, signal) => {
      running = null;
      clearTimeout(timer);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

/** The failures of the run, from its NDJSON event log: one entry per (operation, check, title). */
function failuresFromReport(path) {
  if (!existsSync(path)) return null;
  const failures = new Map();
  const errors = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      continue;
    }
    const [[kind, data]] = Object.entries(event);
    if (kind === "NonFatalError" || kind === "FatalError") errors.push(data?.info?.message ?? data?.value?.message ?? JSON.stringify(data).slice(0, 300));
    if (kind !== "ScenarioFinished" || !data?.recorder) continue;
    const { label, checks = {}, interactions = {}, cases = {} } = data.recorder;
    for (const [caseId, results] of Object.entries(checks)) {
      for (const check of results) {
        if (String(check.status).toLowerCase() !== "failure") continue;
        const failure = check.failure_info?.failure ?? {};
        const key = `${label} | ${check.name} | ${failure.title ?? ""} | ${failure.message ?? ""}`.slice(0, 400);
        if (failures.has(key)) continue;
        const interaction = interactions[caseId];
        const request = interaction?.request ?? cases[caseId]?.value ?? {};
        let body = interaction?.response?.content?.$base64 ? Buffer.from(interaction.response.content.$base64, "base64").toString("utf8") : "";
        body = body.replace(/\n+/g, " ");
        if (body.length > 300) body = `${body.slice(0, 300)}…`;
        failures.set(key, {
          label,
          check: check.name,
          title: failure.title ?? failure.code,
          message: failure.message ?? "",
          phase: data.phase,
          request: `${request.method ?? "?"} ${request.uri ?? request.path ?? ""}`,
          requestBody: request.body?.string ?? (request.body?.$base64 ? Buffer.from(request.body.$base64, "base64").toString("utf8") : undefined),
          status: interaction?.response?.status_code,
          body,
        });
      }
    }
  }
  return { failures: [...failures.values()], errors };
}

/** The statuses each documented operation answered during the run: "GET /api/x: 200×3 404×9". */
function coverage(doc, seen) {
  const templates = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item).map((method) => ({
      key: `${method.toUpperCase()} ${path}`,
      method: method.toUpperCase(),
      pattern: new RegExp(`^${path.replace(/[.]/g, "\\.").replace(/\{[^}]+\}/g, "[^/]+")}$`),
      statuses: new Map(),
    })),
  );
  for (const [method, path, status] of seen) {
    const op = templates.find((t) => t.method === method && t.pattern.test(path));
    if (op) op.statuses.set(status, (op.statuses.get(status) ?? 0) + 1);
  }
  return templates.map(({ key, statuses }) => {
    const counts = [...statuses.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`);
    const success = [...statuses.keys()].some((s) => s >= 200 && s < 300);
    return `${success ? "  " : "! "}${key}: ${counts.join(" ") || "no requests"}`;
  });
}

async function main() {
  for (const path of ["build/index.js", "build/index_bg.wasm", "build-admin/index.js", "build-admin/index_bg.wasm", "public"]) {
    if (!existsSync(join(root, path))) throw new Error(`${path} is missing: build first (node scripts/build.mjs)`);
  }
  ensureSchemathesis();

  const standin = await startStandIn();
  const adminKey = `admin_${randomBytes(24).toString("hex")}`;
  const worker = await startWorker(
    { OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "k", ADMIN_API_KEY: adminKey, WEBHOOK_ALLOW_HOSTS: "127.0.0.1" },
    { assets: true },
  );
  const guard = await startGuard(worker.url, `${standin.url}/hooks/defused`);
  const problems = [];
  let code = 1;
  try {
    log(`worker at ${worker.url} (store: ${worker.store}), model and webhook stand-in at ${standin.url}, guard at ${guard.url}`);
    const env = await prepare(worker, standin, adminKey);
    log(`tenant ${env.FUZZ_TENANT_ID}, agent ${env.FUZZ_AGENT_ID}, conversation ${env.FUZZ_CONVERSATION_ID} with a rated answer`);

    // The document the worker serves must be the repository's.
    const local = JSON.parse(readFileSync(join(root, "openapi.json"), "utf8"));
    const served = await call(worker.url, "/api/openapi.json");
    let location = `${guard.url}/api/openapi.json`;
    const base = [];
    if (served.status !== 200 || !isDeepStrictEqual(served.json, local)) {
      const why = served.status !== 200 ? `answers ${served.status} ${served.text.slice(0, 200)}` : "answers a document that differs from openapi.json";
      const hint = !existsSync(join(root, "public/openapi.json"))
        ? "public/openapi.json is missing: the build copies openapi.json there"
        : served.status !== 200
          ? "the worker reads public/openapi.json through its ASSETS binding: does the worker have it (startWorker's assets option)?"
          : "public/openapi.json is older than openapi.json: rebuild (node scripts/build.mjs)";
      problems.push(`GET /api/openapi.json ${why} (${hint})`);
      log(`GET /api/openapi.json ${why}: fuzzing with the repository's openapi.json instead`);
      location = join(root, "openapi.json");
      base.push("--url", guard.url);
    } else if (served.headers.get("content-type")?.split(";")[0] !== "application/json") {
      problems.push(`GET /api/openapi.json answers content-type ${served.headers.get("content-type")}`);
    }

    rmSync(REPORT_DIR, { recursive: true, force: true });
    const args = [
      "--config-file", join(here, "schemathesis.toml"),
      "run", location, ...base,
      "--phases", "examples,coverage,fuzzing",
      "--max-examples", options["max-examples"],
      "--workers", options.workers,
      "--request-timeout", "30",
      "--report", "junit,ndjson",
      "--report-junit-path", join(REPORT_DIR, "junit.xml"),
      "--report-ndjson-path", join(REPORT_DIR, "events.ndjson"),
      "--no-color",
      ...(options.seed ? ["--seed", options.seed] : []),
      ...extra,
    ];
    log(`st ${args.join(" ")}`);
    const exit = await runSchemathesis(args, { ...env, FUZZ_CACHE_DIR: join(root, ".cache/schemathesis-state") }, Number(options["time-limit"]));
    const report = failuresFromReport(join(REPORT_DIR, "events.ndjson"));

    console.log("\n[fuzz] ===== summary =====");
    console.log("[fuzz] statuses per operation (! = no 2xx answer reached):");
    for (const line of coverage(local, guard.stats.seen)) console.log(`[fuzz]   ${line}`);
    console.log(`[fuzz] schemathesis ${SCHEMATHESIS_VERSION}, exit ${exit}, ${guard.stats.requests} requests (${guard.stats.defused} with URLs defused), ${seconds()}`);
    if (report) {
      for (const f of report.failures) {
        console.log(`[fuzz] FAIL ${f.label}: ${f.check}: ${f.title ?? ""}${f.message ? `: ${f.message.split("\n")[0].slice(0, 200)}` : ""}`);
        console.log(`[fuzz]      ${f.phase}: ${f.request}${f.requestBody ? ` ${f.requestBody.slice(0, 200)}` : ""} -> ${f.status ?? "no answer"} ${f.body}`);
      }
      for (const e of report.errors) console.log(`[fuzz] ERROR ${String(e).split("\n")[0].slice(0, 300)}`);
    }
    for (const p of problems) console.log(`[fuzz] FAIL ${p}`);
    console.log(`[fuzz] reports: ${REPORT_DIR} (junit.xml, events.ndjson)`);
    code = exit === 0 && problems.length === 0 ? 0 : 1;
    console.log(code === 0 ? "[fuzz] PASS: no failures" : "[fuzz] FAILED");
  } finally {
    await guard.close();
    await worker.stop();
    await standin.close();
  }
  return code;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`[fuzz] ${error.stack ?? error.message}`);
    process.exit(1);
  },
);
