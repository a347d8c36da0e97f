// `npm run soak -- --minutes N`: steady concurrent chat traffic for N minutes against the built
// worker in workerd (Miniflare API, as bench/run.mjs), the model and webhook stand-in on
// loopback. Widget turns (`POST /api/agents/{id}/chat`, multi-turn conversations) and
// `/v1/chat/completions` calls (the official `openai` client, streamed and whole, stored with
// `store: true`) are mixed, with built-in and webhook tool calls and some clients that hang up
// mid-answer. It prints requests, errors and latency per interval, the workerd process's
// resident memory over time with its least-squares slope, and then checks through the
// management API that every user message the worker accepted was stored exactly once.
// Exits 1 when that check fails, when any request errs, or when memory grows (judged on runs of
// six minutes or more, after a warm-up of at least four).
//
// Options: --minutes N (default 1; fractions allowed), --concurrency C (default 12 clients),
// --store d1|convex (default TEST_STORE or d1), --write (put the figures into bench/RESULTS.md),
// --no-build (use build/ as it is), --floor (then the same clients and time against the
// JavaScript pass-through worker, for its memory slope), --only kind,kind (just those requests),
// --heaps (also read every isolate's V8 heap through workerd's inspector, to split RSS into
// the isolates' heaps and the rest).
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { build } from "../scripts/build.mjs";
import { percentile, rssMb, startJsWorker, watchHeaps, withPid, workerdPids, writeResultsSection } from "./workerd.mjs";
import { freePort } from "../tests/support/ports.mjs";
import { startStandIn } from "../tests/support/standin.mjs";
import { putAgent, putApiKey, startWorker, TEST_ORIGIN, TEST_STORE, testKey } from "../tests/support/worker.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};
const MINUTES = Number(arg("minutes", "1"));
const CONCURRENCY = Math.round(Number(arg("concurrency", "12")));
const STORE = arg("store", TEST_STORE);
const WRITE = process.argv.includes("--write");
const FLOOR = process.argv.includes("--floor");
const HEAPS = process.argv.includes("--heaps");
// Bounds: a soak is a few minutes on one machine, not a load test left running.
if (!(MINUTES > 0 && MINUTES <= 120) || !(CONCURRENCY >= 1 && CONCURRENCY <= 200)) {
  console.error("usage: npm run soak -- [--minutes N (0 < N <= 120)] [--concurrency C (1-200)] [--store d1|convex] [--write]");
  process.exit(2);
}
const DURATION_MS = MINUTES * 60_000;
// Latency rows: about six over the run, between 10 s and a minute each.
const INTERVAL_MS = Math.min(60_000, Math.max(10_000, Math.round(DURATION_MS / 6 / 1000) * 1000));
/** Longest a request may take before it counts as hung. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Widget turns per conversation before a client starts a new one. */
const TURNS_PER_CONVERSATION = 6;
/** Memory samples before this share of the run are warm-up (the isolate, the JIT, D1 pages)... */
const WARMUP_SHARE = 0.25;
/** ...and before this many minutes in any case: on a 2-core machine workerd's RSS climbs for
 * about four minutes under this traffic (V8 sizing its heaps, D1's page cache), for the
 * JavaScript floor as for the worker, before it holds. */
const WARMUP_MIN_MINUTES = 4;
/** Least run after the warm-up for a memory verdict (a shorter run prints the figures only). */
const JUDGED_MIN_MINUTES = 2;
const WARMUP_MINUTES = Math.max(MINUTES * WARMUP_SHARE, WARMUP_MIN_MINUTES);
const JUDGED = MINUTES - WARMUP_MINUTES >= JUDGED_MIN_MINUTES;
/** Where the measured window starts, in minutes: after the warm-up, or a short run's second half. */
const MEASURED_FROM = JUDGED ? WARMUP_MINUTES : MINUTES / 2;
const WARMUP_TEXT = `the first ${WARMUP_MINUTES.toFixed(1)} min (a quarter of the run, at least ${WARMUP_MIN_MINUTES})`;
/** How long memory is watched without traffic after the run. */
const IDLE_MS = 15_000;
/** Memory counts as flat when the fitted line grows less than this over the measured window. */
const FLAT_GROWTH_SHARE = 0.05;

const ADMIN = `adm_soak_${randomUUID()}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The agents: a paced text answer, a built-in tool, a webhook tool, and a long answer that the
// hanging-up clients leave early.
const AGENTS = {
  "soak-text": { model: "scenario/bench/30/5" },
  "soak-builtin": { model: "scenario/tool", tools: { builtin: ["get_current_time"], webhooks: [] } },
  "soak-webhook": { model: "scenario/call/lookup_order", webhook: true },
  "soak-long": { model: "scenario/bench/200/5" },
};

/** What a client does next, with its weight. */
const MIX = [
  ["widget", "soak-text", 24],
  ["widget", "soak-builtin", 12],
  ["widget", "soak-webhook", 12],
  ["widget-hangup", "soak-long", 8],
  ["v1-stream", "soak-text", 16],
  ["v1-stream", "soak-webhook", 8],
  ["v1-whole", "soak-builtin", 10],
  ["v1-hangup", "soak-long", 6],
];
// `--only widget,v1-stream`: just those kinds (to find which traffic a figure comes from).
const ONLY = arg("only", null)?.split(",");
if (ONLY) MIX.splice(0, MIX.length, ...MIX.filter(([kind]) => ONLY.includes(kind)));
if (MIX.length === 0) {
  console.error(`--only: no such kind (kinds: widget, widget-hangup, v1-stream, v1-whole, v1-hangup)`);
  process.exit(2);
}
const MIX_TOTAL = MIX.reduce((sum, [, , w]) => sum + w, 0);
const pick = () => {
  let r = Math.random() * MIX_TOTAL;
  for (const entry of MIX) if ((r -= entry[2]) < 0) return entry;
  return MIX[0];
};

const f = (v, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : "–");

/** Least-squares slope and intercept of `points` ([x, y] pairs). */
function leastSquares(points) {
  const n = points.length;
  if (n < 2) return { slope: NaN, intercept: NaN };
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const cov = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const varX = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const slope = varX > 0 ? cov / varX : NaN;
  return { slope, intercept: my - slope * mx };
}

/** The memory figures of a run: `samples` are [minutes since start, MB]; `at` request times. */
function memoryFigures(samples, startAt, requestTimes) {
  // A run too short to judge still gets figures: its second half.
  const measured = samples.filter(([m]) => m >= MEASURED_FROM);
  const { slope } = leastSquares(measured);
  const window = measured.length ? measured[measured.length - 1][0] - measured[0][0] : 0;
  const meanRss = measured.reduce((s, [, mb]) => s + mb, 0) / Math.max(measured.length, 1);
  const growth = slope * window;
  const from = startAt + (measured[0]?.[0] ?? 0) * 60_000;
  const inWindow = requestTimes.filter((t) => t >= from && t <= from + window * 60_000).length;
  return {
    start: samples[0][1],
    peak: Math.max(...samples.map(([, mb]) => mb)),
    end: samples[samples.length - 1][1],
    slope,
    window,
    meanRss,
    growth,
    perRequestKb: inWindow ? (growth * 1024) / inWindow : NaN,
    // A sample of NaN: the workerd process went away during the run.
    gone: samples.some(([, mb]) => !Number.isFinite(mb)),
    flat: Number.isFinite(slope) && growth < FLAT_GROWTH_SHARE * meanRss,
  };
}

/** RSS of `pid` after `ms` without traffic (the isolate's idle garbage collection may run). */
async function idleRss(pid, ms) {
  await sleep(ms);
  return rssMb(pid);
}

/**
 * The same clients and duration against the JavaScript pass-through worker (bench/workers),
 * in its own workerd: how much workerd's RSS grows per streamed request with no Rust, no store.
 */
async function floorRun(standin) {
  const { url, pid, stop } = await withPid(() => startJsWorker("passthrough.mjs", `${standin.url}/v1`));
  try {
    const startAt = Date.now();
    const endAt = startAt + DURATION_MS;
    const samples = [[0, rssMb(pid)]];
    const sampler = setInterval(() => samples.push([(Date.now() - startAt) / 60_000, rssMb(pid)]), 1000);
    const times = [];
    let errors = 0;
    const body = JSON.stringify({ id: "x", messages: [{ id: "u", role: "user", parts: [{ type: "text", text: "hi" }] }] });
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (Date.now() < endAt) {
          times.push(Date.now());
          try {
            const res = await fetch(`${url}/${encodeURIComponent(AGENTS["soak-text"].model)}`, { method: "POST", body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
            if (!(await res.text()).includes("[DONE]")) errors++;
          } catch {
            errors++;
          }
        }
      }),
    );
    clearInterval(sampler);
    const mem = memoryFigures(samples, startAt, times);
    mem.idle = await idleRss(pid, IDLE_MS);
    return { requests: times.length, errors, mem };
  } finally {
    await stop();
  }
}

/** Reads a UI message stream (SSE) to its end or until `stopAfter` ms past the first token. */
async function readUiStream(res, started, { stopAfter = null, controller = null } = {}) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let rest = "";
  const seen = { answerId: null, firstToken: null, finish: null, error: null, done: false };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    rest += decoder.decode(value, { stream: true });
    const lines = rest.split("\n");
    rest = lines.pop();
    for (const line of lines) {
      if (!line.startsWith("data: ")) continue;
      const data = line.slice(6);
      if (data === "[DONE]") {
        seen.done = true;
        continue;
      }
      let chunk;
      try {
        chunk = JSON.parse(data);
      } catch {
        seen.error = `unreadable chunk: ${data.slice(0, 80)}`;
        continue;
      }
      if (chunk.type === "start") seen.answerId = chunk.messageId;
      else if (chunk.type === "text-delta" && seen.firstToken === null) seen.firstToken = performance.now() - started;
      else if (chunk.type === "finish") seen.finish = chunk.finishReason ?? "stop";
      else if (chunk.type === "error") seen.error = chunk.errorText ?? "error";
    }
    if (stopAfter !== null && seen.firstToken !== null && performance.now() - started > seen.firstToken + stopAfter) {
      controller.abort();
      await reader.cancel().catch(() => {});
      return { ...seen, hungUp: true };
    }
  }
  return { ...seen, hungUp: false };
}

/** The whole run's bookkeeping. */
const ledger = {
  results: [], // { at, kind, ok, hungUp, error, total, firstToken }
  widget: new Map(), // conversation id -> { agent, turns: [{ userId, accepted, answerId, completed }] }
  api: [], // { conversationId, nonce, accepted, completed }
};

/** One client: keeps a widget conversation per agent and its visitor token, and loops. */
async function client(ctx, index, endAt) {
  const conversations = new Map(); // agent -> { id, token, turns }
  const openai = new OpenAI({ apiKey: ctx.apiKey, baseURL: `${ctx.url}/v1`, maxRetries: 0, timeout: REQUEST_TIMEOUT_MS });
  let n = 0;
  while (Date.now() < endAt) {
    const [kind, agent] = pick();
    const started = performance.now();
    const at = Date.now();
    const nonce = `c${index}-${n++}-${randomUUID().slice(0, 8)}`;
    let result;
    try {
      result = kind.startsWith("widget")
        ? await widgetTurn(ctx, conversations, agent, nonce, kind === "widget-hangup", started)
        : await apiTurn(openai, agent, nonce, kind, started);
    } catch (error) {
      result = { ok: false, error: error.message };
    }
    ledger.results.push({ at, kind, agent, total: performance.now() - started, ...result });
  }
}

async function widgetTurn(ctx, conversations, agent, nonce, hangUp, started) {
  let conversation = conversations.get(agent);
  if (!conversation || conversation.turns >= TURNS_PER_CONVERSATION) {
    conversation = { id: `soak_${randomUUID()}`, token: conversation?.token ?? null, turns: 0 };
    conversations.set(agent, conversation);
    ledger.widget.set(conversation.id, { agent, turns: [] });
  }
  conversation.turns++;
  const userId = `u_${randomUUID()}`;
  const turn = { userId, text: `soak ${nonce}`, accepted: false, answerId: null, completed: false };
  ledger.widget.get(conversation.id).turns.push(turn);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    const headers = { "content-type": "application/json", "x-publishable-key": testKey(agent), origin: TEST_ORIGIN };
    if (conversation.token) headers["x-visitor-token"] = conversation.token;
    const res = await fetch(`${ctx.url}/api/agents/${agent}/chat`, {
      method: "POST",
      headers,
      signal: controller.signal,
      body: JSON.stringify({ id: conversation.id, messages: [{ id: userId, role: "user", parts: [{ type: "text", text: turn.text }] }] }),
    });
    conversation.token = res.headers.get("x-visitor-token") ?? conversation.token;
    if (res.status !== 200) return { ok: false, error: `status ${res.status}: ${(await res.text()).slice(0, 120)}` };
    // A 200 means the worker took the message: it stores it even if the client leaves.
    turn.accepted = true;
    // A hanging-up client leaves 20-120 ms after the first token.
    const seen = await readUiStream(res, started, hangUp ? { stopAfter: 20 + Math.random() * 100, controller } : {});
    turn.answerId = seen.answerId;
    if (seen.hungUp) return { ok: true, hungUp: true, firstToken: seen.firstToken };
    turn.completed = seen.done && seen.finish === "stop" && !seen.error;
    if (!turn.completed) return { ok: false, error: seen.error ?? `ended without [DONE] (finish ${seen.finish})` };
    return { ok: true, firstToken: seen.firstToken };
  } catch (error) {
    if (controller.signal.aborted) return { ok: false, error: "timed out (hung)" };
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function apiTurn(openai, agent, nonce, kind, started) {
  const record = { conversationId: null, text: `soak ${nonce}`, accepted: false, completed: false };
  ledger.api.push(record);
  // The caller sends the conversation so far; only the last user message is stored.
  const messages = [
    { role: "user", content: "an earlier question" },
    { role: "assistant", content: "an earlier answer" },
    { role: "user", content: record.text },
  ];
  const params = { model: agent, messages, store: true, user: `soak-user-${nonce.split("-")[0]}` };
  if (kind === "v1-whole") {
    const { data, response } = await openai.chat.completions.create(params).withResponse();
    record.conversationId = response.headers.get("x-conversation-id");
    record.accepted = true;
    record.completed = data.choices[0]?.finish_reason === "stop";
    return record.completed ? { ok: true, firstToken: performance.now() - started } : { ok: false, error: `finish ${data.choices[0]?.finish_reason}` };
  }
  const { data: stream, response } = await openai.chat.completions.create({ ...params, stream: true }).withResponse();
  record.conversationId = response.headers.get("x-conversation-id");
  record.accepted = true;
  let firstToken = null;
  let finish = null;
  const hangUpAfter = kind === "v1-hangup" ? 20 + Math.random() * 100 : null;
  for await (const chunk of stream) {
    if (firstToken === null && chunk.choices[0]?.delta?.content) firstToken = performance.now() - started;
    finish = chunk.choices[0]?.finish_reason ?? finish;
    if (hangUpAfter !== null && firstToken !== null && performance.now() - started > firstToken + hangUpAfter) {
      stream.controller.abort();
      return { ok: true, hungUp: true, firstToken };
    }
  }
  record.completed = finish === "stop";
  return record.completed ? { ok: true, firstToken } : { ok: false, error: `finish ${finish}` };
}

/** Checks the stored conversations against what was sent; returns the problems found. */
async function checkStored(ctx) {
  const problems = [];
  const get = async (id) => {
    const res = await fetch(`${ctx.url}/api/admin/conversations/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${ctx.secretKey}` } });
    if (res.status === 404) return null;
    if (res.status !== 200) throw new Error(`reading ${id}: status ${res.status}`);
    return (await res.json()).conversation;
  };
  const textOf = (m) => (m.parts ?? []).filter((p) => p.type === "text").map((p) => p.text).join("");
  let userMessages = 0;
  let answers = 0;
  let aborted = 0;
  const queue = [...ledger.widget.entries()];
  const checkWidget = async ([id, { turns }]) => {
    const conversation = await get(id);
    const messages = conversation?.messages ?? [];
    const users = messages.filter((m) => m.role === "user");
    const assistants = messages.filter((m) => m.role === "assistant");
    for (const turn of turns) {
      const stored = users.filter((m) => m.id === turn.userId);
      if (turn.accepted && stored.length !== 1) problems.push(`${id}: accepted user message ${turn.userId} stored ${stored.length} times`);
      if (!turn.accepted && stored.length > 1) problems.push(`${id}: user message ${turn.userId} stored ${stored.length} times`);
      if (stored.length === 1 && textOf(stored[0]) !== turn.text) problems.push(`${id}: user message ${turn.userId} stored with other text`);
      if (turn.answerId) {
        const answer = assistants.filter((m) => m.id === turn.answerId);
        if (answer.length > 1) problems.push(`${id}: answer ${turn.answerId} stored ${answer.length} times`);
        if (turn.completed && (answer.length !== 1 || answer[0].metadata?.status !== "complete"))
          problems.push(`${id}: completed answer ${turn.answerId} stored ${answer.length} times, status ${answer[0]?.metadata?.status}`);
        if (answer[0]?.metadata?.status === "aborted") aborted++;
      }
    }
    const known = new Set(turns.map((t) => t.userId));
    for (const m of users) if (!known.has(m.id)) problems.push(`${id}: a user message nobody sent (${m.id})`);
    if (assistants.length > turns.length) problems.push(`${id}: ${assistants.length} answers for ${turns.length} turns`);
    userMessages += users.length;
    answers += assistants.length;
  };
  const checkApi = async (record) => {
    if (!record.conversationId) {
      if (record.accepted) problems.push(`/v1 call "${record.text}" stored nothing (no x-conversation-id)`);
      return;
    }
    const conversation = await get(record.conversationId);
    const messages = conversation?.messages ?? [];
    const users = messages.filter((m) => m.role === "user");
    const assistants = messages.filter((m) => m.role === "assistant");
    const mine = users.filter((m) => textOf(m) === record.text);
    if (record.accepted && (mine.length !== 1 || users.length !== 1))
      problems.push(`${record.conversationId}: /v1 user message stored ${mine.length} times (${users.length} user messages)`);
    if (assistants.length > 1) problems.push(`${record.conversationId}: ${assistants.length} answers for one /v1 call`);
    if (record.completed && assistants[0]?.metadata?.status !== "complete")
      problems.push(`${record.conversationId}: completed /v1 answer stored as ${assistants[0]?.metadata?.status ?? "nothing"}`);
    if (assistants[0]?.metadata?.status === "aborted") aborted++;
    userMessages += users.length;
    answers += assistants.length;
  };
  // A few reads at a time: the check must not become a load test of its own.
  const jobs = [...queue.map((entry) => () => checkWidget(entry)), ...ledger.api.map((r) => () => checkApi(r))];
  let next = 0;
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      while (next < jobs.length) await jobs[next++]();
    }),
  );
  return { problems, userMessages, answers, aborted, conversations: ledger.widget.size + ledger.api.filter((r) => r.conversationId).length };
}

/** Polls until the answers of hung-up turns, stored after the visitor left, have landed. */
async function settle(ctx) {
  let check;
  for (let attempt = 0; attempt < 20; attempt++) {
    check = await checkStored(ctx);
    if (check.problems.length === 0) return check;
    await sleep(500);
  }
  return check;
}

/** The worker's own log lines: request lines are dropped (the chat worker's wasm memory kept from them), errors counted and a few kept. */
const logged = { errors: 0, kept: [], wasm: [] };
function workerLog(line) {
  const request = line.includes('"event":"request"');
  if (request && !line.includes("/api/admin/")) {
    const kb = Number(line.match(/"memoryKb":(\d+)/)?.[1]);
    if (Number.isFinite(kb) && logged.startAt) logged.wasm.push([(Date.now() - logged.startAt) / 60_000, kb / 1024]);
  }
  if (request && !line.includes('"level":"error"')) return;
  if (/error|panicked/i.test(line)) logged.errors++;
  if (logged.kept.length < 10) logged.kept.push(line.slice(0, 300));
}

async function main() {
  if (!process.argv.includes("--no-build")) await build();
  const standin = await startStandIn();
  const before = workerdPids();
  // D1's SQLite files on disk: by default Miniflare keeps the database in workerd's memory, so
  // every stored message would count as the worker's memory (in production the database is
  // not in the worker's process at all).
  const d1Dir = mkdtempSync(join(tmpdir(), "soak-d1-"));
  const inspectorPort = HEAPS ? await freePort() : undefined;
  const worker = await startWorker(
    { OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "soak", ADMIN_API_KEY: ADMIN, WEBHOOK_ALLOW_HOSTS: "127.0.0.1" },
    { store: STORE, onLog: (line) => workerLog(line), d1Dir, inspectorPort },
  );
  const heapWatch = HEAPS ? await watchHeaps(inspectorPort) : null;
  const pid = [...workerdPids()].find((p) => !before.has(p));
  let failed = true;
  try {
    if (!pid) throw new Error("could not find the workerd process");
    const created = await fetch(`${worker.url}/api/admin/tenants`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Soak Inc." }),
    });
    if (created.status !== 201) throw new Error(`creating the tenant: ${created.status} ${await created.text()}`);
    const { tenant, secretKey } = await created.json();
    const limits = { visitorPerMinute: 1_000_000, ipPerMinute: 1_000_000, tenantPerMinute: 1_000_000 };
    for (const [id, a] of Object.entries(AGENTS)) {
      const tools = a.webhook
        ? { builtin: [], webhooks: [{ name: "lookup_order", description: "Look up an order", url: `${standin.url}/hooks/order`, headers: { "x-api-key": "hook-secret" } }] }
        : (a.tools ?? { builtin: [], webhooks: [] });
      await putAgent(worker.db, { id, tenant: tenant.id, config: { name: id, systemPrompt: "You are a soak-test agent.", model: a.model, tools, limits } });
    }
    const apiKey = await putApiKey(worker.db, { tenant: tenant.id, perMinute: 1_000_000 });
    const ctx = { url: worker.url, apiKey, secretKey };

    const load = loadavg();
    console.log(
      `soak: ${MINUTES} min, ${CONCURRENCY} clients, store ${STORE}, workerd pid ${pid}, ${cpus().length} cores, load average ${load.map((l) => l.toFixed(2)).join(" ")}`,
    );
    const startAt = Date.now();
    logged.startAt = startAt;
    const endAt = startAt + DURATION_MS;
    const memory = [];
    const sampler = setInterval(() => memory.push([(Date.now() - startAt) / 60_000, rssMb(pid)]), 1000);
    memory.push([0, rssMb(pid)]);
    // [minutes, V8 heaps of all isolates (MB), RSS at the same moment (MB)], every 5 s; and every
    // 30 s what the chat isolate's heap holds after a full collection.
    const heapSamples = [];
    const liveSamples = [];
    let ticks = 0;
    const heapSampler = heapWatch
      ? setInterval(async () => {
          const at = (Date.now() - startAt) / 60_000;
          const rss = rssMb(pid);
          const { total } = await heapWatch.heaps().catch(() => ({ total: NaN }));
          heapSamples.push([at, total, rss]);
          if (++ticks % 6 === 0) liveSamples.push([at, await heapWatch.liveHeap("user:chat").catch(() => NaN)]);
        }, 5000)
      : null;
    let printed = 0;
    const rowOf = (from, to) => {
      const rows = ledger.results.filter((r) => r.at >= from && r.at < to);
      const ok = rows.filter((r) => r.ok && !r.hungUp);
      const rss = memory.filter(([m]) => m * 60_000 >= from - startAt && m * 60_000 < to - startAt).map(([, mb]) => mb);
      return {
        from: (from - startAt) / 1000,
        to: (to - startAt) / 1000,
        requests: rows.length,
        errors: rows.filter((r) => !r.ok).length,
        hungUp: rows.filter((r) => r.hungUp).length,
        firstToken50: percentile(ok.map((r) => r.firstToken).filter(Number.isFinite), 50),
        total50: percentile(ok.map((r) => r.total), 50),
        total99: percentile(ok.map((r) => r.total), 99),
        rss: rss.length ? rss[rss.length - 1] : NaN,
        heaps: heapSamples.filter(([m]) => m * 60_000 >= from - startAt && m * 60_000 < to - startAt).at(-1)?.[1] ?? NaN,
      };
    };
    const printRow = (row) =>
      console.log(
        `${f(row.from, 0).padStart(5)}-${f(row.to, 0).padEnd(5)} s  requests ${String(row.requests).padStart(5)}  errors ${row.errors}  hung up ${String(row.hungUp).padStart(3)}  first token p50 ${f(row.firstToken50).padStart(6)} ms  total p50 ${f(row.total50).padStart(6)} p99 ${f(row.total99).padStart(7)} ms  workerd RSS ${f(row.rss)} MB${heapWatch ? ` (V8 heaps ${f(row.heaps)})` : ""}`,
      );
    const ticker = setInterval(() => {
      while (startAt + (printed + 1) * INTERVAL_MS <= Math.min(Date.now(), endAt)) {
        printRow(rowOf(startAt + printed * INTERVAL_MS, startAt + (printed + 1) * INTERVAL_MS));
        printed++;
      }
    }, 250);
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => client(ctx, i, endAt)));
    clearInterval(ticker);
    clearInterval(sampler);
    clearInterval(heapSampler);
    const rows = [];
    for (let i = 0; startAt + i * INTERVAL_MS < endAt; i++) rows.push(rowOf(startAt + i * INTERVAL_MS, Math.min(endAt, startAt + (i + 1) * INTERVAL_MS)));
    // Requests started before the end but finished after it belong to the last row.
    const last = rowOf(startAt + (rows.length - 1) * INTERVAL_MS, Infinity);
    rows[rows.length - 1] = { ...last, to: rows[rows.length - 1].to };
    for (const row of rows.slice(printed)) printRow(row);

    const all = ledger.results;
    const ok = all.filter((r) => r.ok && !r.hungUp);
    const errors = all.filter((r) => !r.ok);
    const byKind = Object.fromEntries(MIX.map(([k]) => [k, 0]));
    for (const r of all) byKind[r.kind]++;
    const totals = {
      requests: all.length,
      errors: errors.length,
      hungUp: all.filter((r) => r.hungUp).length,
      perSecond: all.length / (DURATION_MS / 1000),
      firstToken50: percentile(ok.map((r) => r.firstToken).filter(Number.isFinite), 50),
      total50: percentile(ok.map((r) => r.total), 50),
      total99: percentile(ok.map((r) => r.total), 99),
      byKind,
    };
    console.log(
      `total: ${totals.requests} requests (${f(totals.perSecond)}/s), ${totals.errors} errors, ${totals.hungUp} hung up by the client; first token p50 ${f(totals.firstToken50)} ms, total p50 ${f(totals.total50)} p99 ${f(totals.total99)} ms`,
    );
    console.log(`mix: ${Object.entries(byKind).map(([k, v]) => `${k} ${v}`).join(", ")}`);
    for (const e of errors.slice(0, 10)) console.log(`  error (${e.kind} ${e.agent}): ${e.error}`);

    const mem = memoryFigures(memory, startAt, all.map((r) => r.at));
    if (mem.gone) console.log("the workerd process went away during the run");
    const flat = mem.flat && !mem.gone;
    const verdict = !JUDGED ? `no verdict: a memory verdict needs --minutes ${WARMUP_MIN_MINUTES + JUDGED_MIN_MINUTES} or more` : flat ? "flat" : "GROWING";
    console.log(
      `workerd RSS: start ${f(mem.start)} MB, peak ${f(mem.peak)} MB, end ${f(mem.end)} MB; slope after ${JUDGED ? WARMUP_TEXT : "the first half"} ${f(mem.slope, 2)} MB/min (fitted growth ${f(mem.growth)} MB over ${f(mem.window * 60, 0)} s, ${f(mem.perRequestKb)} KB per request, mean ${f(mem.meanRss)} MB): ${verdict} (limit: growth under ${FLAT_GROWTH_SHARE * 100}% of the mean)`,
    );
    if (heapWatch) {
      // The same window as the RSS slope: how much of the growth is the isolates' V8 heaps.
      const measured = heapSamples.filter(([m, total]) => m >= MEASURED_FROM && Number.isFinite(total));
      const heaps = leastSquares(measured.map(([m, total]) => [m, total])).slope;
      const rest = leastSquares(measured.map(([m, total, rss]) => [m, rss - total])).slope;
      const last = measured.at(-1);
      console.log(
        `V8 heaps of all isolates (inspector): ${f(last?.[1])} MB at the end, slope ${f(heaps, 2)} MB/min; the rest of RSS (workerd's own memory, SQLite, wasm memories): ${f(last ? last[2] - last[1] : NaN)} MB, slope ${f(rest, 2)} MB/min`,
      );
      const live = liveSamples.filter(([m, mb]) => m >= MEASURED_FROM && Number.isFinite(mb));
      console.log(
        `the chat isolate's V8 heap after a full collection: ${live.length ? `${f(live[0][1])} MB after the warm-up, ${f(live.at(-1)[1])} MB at the end, slope ${f(leastSquares(live).slope, 2)} MB/min` : "not sampled"}`,
      );
      const { byIsolate } = await heapWatch.heaps().catch(() => ({ byIsolate: {} }));
      const biggest = Object.entries(byIsolate).sort((a, b) => b[1].total - a[1].total).slice(0, 6);
      console.log(`  by isolate (V8 heap reserved / used, MB): ${biggest.map(([name, h]) => `${name} ${f(h.total)}/${f(h.used)}`).join(", ")}`);
      heapWatch.close();
    }
    const wasm = logged.wasm.filter(([m]) => m >= MEASURED_FROM);
    if (wasm.length) {
      console.log(`the chat isolate's wasm memory (its request log lines): ${f(wasm[0][1])} MB after the warm-up, ${f(wasm.at(-1)[1])} MB at the end, peak ${f(Math.max(...logged.wasm.map(([, mb]) => mb)))} MB`);
    }
    mem.idle = await idleRss(pid, IDLE_MS);
    console.log(`workerd RSS after ${IDLE_MS / 1000} s without traffic: ${f(mem.idle)} MB`);

    if (logged.kept.length) console.log(`worker log (${logged.errors} error lines):\n  ${logged.kept.join("\n  ")}`);
    const check = await settle(ctx);
    console.log(
      `stored: ${check.conversations} conversations, ${check.userMessages} user messages, ${check.answers} answers (${check.aborted} aborted); ${check.problems.length ? `${check.problems.length} PROBLEMS` : "every accepted user message stored exactly once"}`,
    );
    for (const p of check.problems.slice(0, 20)) console.log(`  ${p}`);
    failed = check.problems.length > 0 || totals.errors > 0 || mem.gone || (JUDGED && !flat);
    console.log(failed ? "soak: FAILED" : "soak: passed");
    let floor = null;
    if (FLOOR) {
      floor = await floorRun(standin);
      console.log(
        `floor (bench/workers/passthrough.mjs, same clients and time, paced text only): ${floor.requests} requests, ${floor.errors} errors; workerd RSS start ${f(floor.mem.start)} MB, end ${f(floor.mem.end)} MB, slope ${f(floor.mem.slope, 2)} MB/min (${f(floor.mem.perRequestKb)} KB per request), after ${IDLE_MS / 1000} s idle ${f(floor.mem.idle)} MB`,
      );
    }
    if (WRITE) writeResults({ rows, totals, mem, check, load, store: STORE, floor });
  } finally {
    await worker.stop();
    await standin.close();
    rmSync(d1Dir, { recursive: true, force: true });
  }
  process.exitCode = failed ? 1 : 0;
}

/** Puts the run's figures into bench/RESULTS.md as its "## Soak" section (replacing an older one). */
function writeResults({ rows, totals, mem, check, load, store, floor }) {
  const lines = [];
  const out = (s = "") => lines.push(s);
  out("## Soak");
  out();
  out(
    `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC with \`npm run soak -- --minutes ${MINUTES}${CONCURRENCY !== 12 ? ` --concurrency ${CONCURRENCY}` : ""}\` (store ${store}) on ${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"}), Node ${process.version}; load average at the start ${load.map((l) => l.toFixed(2)).join(" ")} (other builds and tests ran on the machine).`,
  );
  out(
    `${CONCURRENCY} clients back to back: widget turns in multi-turn conversations (paced text, a built-in tool, a webhook tool) and \`/v1/chat/completions\` calls through the \`openai\` client (streamed and whole, \`store: true\`), ${totals.hungUp} of them hanging up 20-120 ms after the first token. Latency in ms from the request to the first token and to the end (hung-up requests left out).`,
  );
  out();
  out("| interval (s) | requests | errors | hung up | first token p50 | total p50 | total p99 | workerd RSS (MB) |");
  out("|---|---|---|---|---|---|---|---|");
  for (const r of rows) out(`| ${f(r.from, 0)}-${f(r.to, 0)} | ${r.requests} | ${r.errors} | ${r.hungUp} | ${f(r.firstToken50)} | ${f(r.total50)} | ${f(r.total99)} | ${f(r.rss)} |`);
  out(`| all | ${totals.requests} (${f(totals.perSecond)}/s) | ${totals.errors} | ${totals.hungUp} | ${f(totals.firstToken50)} | ${f(totals.total50)} | ${f(totals.total99)} | peak ${f(mem.peak)} |`);
  out();
  out(`Mix: ${Object.entries(totals.byKind).map(([k, v]) => `${k} ${v}`).join(", ")}.`);
  out();
  out(
    `Memory: workerd RSS sampled every second (D1's database in files on disk, not in workerd's memory); start ${f(mem.start)} MB, end ${f(mem.end)} MB, ${f(mem.idle)} MB after ${IDLE_MS / 1000} s without traffic. Least-squares slope after ${JUDGED ? WARMUP_TEXT : "the first half (the run is too short for a verdict)"}: ${f(mem.slope, 2)} MB/min (fitted growth ${f(mem.growth)} MB over ${f(mem.window * 60, 0)} s, ${f(mem.perRequestKb)} KB per request, against a mean of ${f(mem.meanRss)} MB): **${!JUDGED ? "no verdict" : mem.flat ? "flat" : "growing"}** (flat: fitted growth under ${FLAT_GROWTH_SHARE * 100}% of the mean).`,
  );
  if (floor) {
    out();
    out(
      `The floor in the same run (\`--floor\`: the JavaScript pass-through worker in its own workerd, the same ${CONCURRENCY} clients for the same time, paced text only): ${floor.requests} requests, ${floor.errors} errors; RSS start ${f(floor.mem.start)} MB, end ${f(floor.mem.end)} MB, ${f(floor.mem.idle)} MB after ${IDLE_MS / 1000} s idle; slope ${f(floor.mem.slope, 2)} MB/min, ${f(floor.mem.perRequestKb)} KB per request (the worker's ${f(mem.perRequestKb)} KB per request is ${f(mem.perRequestKb / floor.mem.perRequestKb)}× that). workerd's RSS grows under steady traffic and is not given back within seconds of idling even for the floor, so compare the KB per request rather than expect zero.`,
    );
  }
  out();
  out(
    `Stored afterwards (management API): ${check.conversations} conversations, ${check.userMessages} user messages, ${check.answers} answers (${check.aborted} aborted); ${check.problems.length ? `${check.problems.length} problems` : "every accepted user message stored exactly once, every completed answer stored once as complete"}.`,
  );
  writeResultsSection("Soak", lines.join("\n"));
  console.log("wrote the Soak section of bench/RESULTS.md");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
