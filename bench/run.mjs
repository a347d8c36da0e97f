// `npm run bench`: streaming cost of the Rust worker next to two JavaScript baselines, each in
// its own workerd process (started through Miniflare's API: no wrangler dev proxy in the path),
// against the local OpenAI-compatible stand-in. Prints the figures and writes bench/RESULTS.md.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { build } from "../scripts/build.mjs";
import { root } from "../scripts/lib.mjs";
import { startStandIn } from "../tests/support/standin.mjs";
import { putAgent, putApiKey, startWorker, TEST_ORIGIN, testKey } from "../tests/support/worker.mjs";
import { startOtlpReceiver } from "../tests/support/otlp-receiver.mjs";
import { voiceMarkdown } from "./voice.mjs";
import { chatBody, cpuMs, peakMemoryMb, percentile, startJsWorker, withPid } from "./workerd.mjs";
import { sizeLines, workerSizes } from "./size.mjs";

const run = promisify(execFile);
const QUICK = process.argv.includes("--quick");
const scale = (n) => (QUICK ? Math.max(3, Math.ceil(n / 10)) : n);
const POINTS = [
  { chunks: 1, pace: 0, requests: scale(300), concurrency: 1 },
  { chunks: 50, pace: 0, requests: scale(200), concurrency: 1 },
  { chunks: 200, pace: 0, requests: scale(100), concurrency: 1 },
  { chunks: 1000, pace: 0, requests: scale(40), concurrency: 1 },
  // Paced points share one concurrency so the per-chunk slope compares like with like.
  { chunks: 1, pace: 5, requests: scale(300), concurrency: 10 },
  { chunks: 50, pace: 5, requests: scale(100), concurrency: 10 },
  { chunks: 200, pace: 5, requests: scale(50), concurrency: 10 },
  { chunks: 1000, pace: 5, requests: scale(30), concurrency: 10 },
];
const LOADS = [100, 500];
/** One streamed request: time to first byte, to first token, total, and whether it completed. */
async function timed(url, body, extraHeaders = {}) {
  const started = performance.now();
  try {
    // The Rust worker needs what the widget sends; the JS baselines ignore these headers.
    const agent = url.match(/\/api\/agents\/([^/]+)\/chat/)?.[1] ?? "";
    const headers = { "content-type": "application/json", "x-publishable-key": testKey(agent), origin: TEST_ORIGIN, ...extraHeaders };
    const res = await fetch(url, { method: "POST", headers, body });
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let text = "";
    let ttfb = null;
    let ttft = null;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const now = performance.now() - started;
      ttfb ??= now;
      text += decoder.decode(value, { stream: true });
      if (ttft === null && text.includes("tok")) ttft = now;
    }
    return { ok: res.status === 200 && text.includes("[DONE]"), ttfb, ttft, total: performance.now() - started };
  } catch (error) {
    return { ok: false, error: error.message, total: performance.now() - started };
  }
}

async function runMany(count, concurrency, request) {
  const results = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        results.push(await request());
      }
    }),
  );
  return results;
}

function targetsFor(standin, servers) {
  const model = (p) => `scenario/bench/${p.chunks}/${p.pace}`;
  return [
    { name: "direct", pid: null, url: (p) => `${standin.url}/v1/chat/completions`, body: (p) => JSON.stringify({ model: model(p), stream: true, messages: [{ role: "user", content: "hi" }] }) },
    { name: "js-passthrough", pid: servers.pass.pid, url: (p) => `${servers.pass.url}/${encodeURIComponent(model(p))}`, body: () => chatBody("x") },
    { name: "js-parse", pid: servers.parse.pid, url: (p) => `${servers.parse.url}/${encodeURIComponent(model(p))}`, body: () => chatBody("x") },
    { name: "rust", pid: servers.rust.pid, url: (p) => `${servers.rust.url}/api/agents/bench-${p.chunks}-${p.pace}/chat`, body: () => chatBody(`b_${randomUUID()}`) },
    // The same worker and agents through the OpenAI-compatible surface (stateless: no
    // conversation read or stored, the usage recorded).
    {
      name: "rust-v1",
      pid: servers.rust.pid,
      url: () => `${servers.rust.url}/v1/chat/completions`,
      body: (p) => JSON.stringify({ model: `bench-${p.chunks}-${p.pace}`, stream: true, messages: [{ role: "user", content: "hi" }] }),
      headers: { authorization: `Bearer ${servers.rust.apiKey}` },
    },
  ];
}

async function measurePoint(target, point) {
  const request = () => timed(target.url(point), target.body(point), target.headers);
  await runMany(Math.min(10, point.requests), point.concurrency, request);
  const cpuBefore = target.pid ? cpuMs(target.pid) : 0;
  const results = await runMany(point.requests, point.concurrency, request);
  const cpu = target.pid ? (cpuMs(target.pid) - cpuBefore) / point.requests : NaN;
  const ok = results.filter((r) => r.ok);
  return {
    cpu,
    errors: results.length - ok.length,
    ttfb50: percentile(ok.map((r) => r.ttfb), 50),
    ttfb99: percentile(ok.map((r) => r.ttfb), 99),
    ttft50: percentile(ok.map((r) => r.ttft), 50),
    total50: percentile(ok.map((r) => r.total), 50),
    total99: percentile(ok.map((r) => r.total), 99),
  };
}

/**
 * The built worker's startup cost: workerd compiles and instantiates the wasm
 * module while loading the script, so the time from spawning workerd to serving, minus the
 * same for the one-file JavaScript worker, approximates compile + instantiate + glue. (Node 20
 * cannot load the module itself: it lacks the wasm exception-handling opcodes worker-build emits.)
 */
async function startupFigures(upstream) {
  const time = async (start) => {
    const samples = [];
    for (let i = 0; i < (QUICK ? 3 : 7); i++) {
      const t = performance.now();
      const server = await start();
      samples.push(performance.now() - t);
      await server.stop();
    }
    return percentile(samples, 50);
  };
  // The chat worker alone, as an isolate on the chat path loads it (the admin worker is another).
  const rustMs = await time(() => startWorker({ OPENROUTER_BASE_URL: upstream }, { migrate: false, admin: false }));
  const jsMs = await time(() => startJsWorker("passthrough.mjs", upstream));
  return {
    rustStartMs: rustMs,
    jsStartMs: jsMs,
  };
}

const f = (v, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : "–");

async function main() {
  await build();
  const standin = await startStandIn();
  const servers = {};
  servers.pass = await withPid(() => startJsWorker("passthrough.mjs", `${standin.url}/v1`));
  servers.parse = await withPid(() => startJsWorker("parse.mjs", `${standin.url}/v1`));
  // The chat worker alone in its workerd: its memory is the chat path's (nothing here calls the
  // management API).
  servers.rust = await withPid(() => startWorker({ OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "bench" }, { admin: false }));
  for (const p of POINTS) {
    await putAgent(servers.rust.db, { id: `bench-${p.chunks}-${p.pace}`, config: { model: `scenario/bench/${p.chunks}/${p.pace}` } });
  }
  servers.rust.apiKey = await putApiKey(servers.rust.db, { perMinute: 6000 });
  const targets = targetsFor(standin, servers);
  const rows = [];
  try {
    for (const point of POINTS) {
      for (const target of targets) {
        const figures = await measurePoint(target, point);
        rows.push({ point, target: target.name, ...figures });
        console.log(
          `${String(point.chunks).padStart(4)} chunks ${point.pace ? "paced 5 ms" : "bursty    "} ${target.name.padEnd(15)} cpu/req ${f(figures.cpu)} ms  ttfb p50 ${f(figures.ttfb50)}  first token p50 ${f(figures.ttft50)}  total p50 ${f(figures.total50)} p99 ${f(figures.total99)}  errors ${figures.errors}`,
        );
      }
    }
    const loads = [];
    for (const streams of LOADS) {
      for (const target of targets.slice(1)) {
        const point = { chunks: 50, pace: 5 };
        const results = await Promise.all(Array.from({ length: streams }, () => timed(target.url(point), target.body(point), target.headers)));
        const ok = results.filter((r) => r.ok);
        const load = { streams, target: target.name, completed: ok.length, errors: results.length - ok.length, p99: percentile(ok.map((r) => r.total), 99) };
        loads.push(load);
        console.log(`${streams} concurrent streams (50 chunks, 5 ms) ${target.name.padEnd(15)} completed ${load.completed} errors ${load.errors} total p99 ${f(load.p99)} ms`);
      }
    }
    const memory = Object.fromEntries(Object.entries(servers).map(([k, s]) => [k, peakMemoryMb(s.pid)]));
    // The sections below each start their own workers: the load phases' workerd processes
    // (hundreds of MB of heap) are stopped first, so they neither share the CPU nor collect
    // garbage while those are timed.
    for (const [name, server] of Object.entries(servers)) {
      await server.stop();
      delete servers[name];
    }
    const startup = await startupFigures(`${standin.url}/v1`);
    const voice = await phoneFiguresApart();
    const tracing = await tracingFigures(standin);
    writeResults(rows, loads, memory, startup, voice, tracing);
  } finally {
    for (const s of Object.values(servers)) await s.stop();
    await standin.close();
  }
}

/**
 * The phone figures from a fresh Node process (`bench/voice.mjs --json`): they are a few
 * milliseconds each, and this process's heap after 500 concurrent streams makes its own
 * garbage collection part of what it would time.
 */
async function phoneFiguresApart() {
  const args = [join(root, "bench/voice.mjs"), "--json", ...(QUICK ? ["--quick"] : [])];
  const { stdout } = await run(process.execPath, args, { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split("\n").pop());
}

/**
 * Tracing's cost (docs/observability.md): the same turns through two Rust workers in the same
 * run, one without tracing and one exporting every turn (sample rate 1, content captured) to a
 * loopback OTLP receiver; the requests alternate between them so both see the same machine.
 * CPU per turn includes the export, which runs after the answer.
 */
async function tracingFigures(standin) {
  const receiver = await startOtlpReceiver();
  const plain = await withPid(() => startWorker({ OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "bench" }));
  const traced = await withPid(() =>
    startWorker({ OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "bench", OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }),
  );
  const figures = [];
  try {
    for (const [chunks, pace] of [[50, 0], [50, 5], [200, 0]]) {
      const id = `bench-${chunks}-${pace}`;
      for (const w of [plain, traced]) await putAgent(w.db, { id, config: { model: `scenario/bench/${chunks}/${pace}`, tools: { builtin: [], webhooks: [] } } });
      const turns = scale(200);
      const turn = (w) => timed(`${w.url}/api/agents/${id}/chat`, chatBody(`t_${randomUUID()}`));
      const warmed = receiver.exports.length + 5;
      for (const w of [plain, traced]) await runMany(5, 1, () => turn(w));
      for (let t = 0; receiver.exports.length < warmed && t < 400; t++) await new Promise((r) => setTimeout(r, 5));
      const exportedBefore = receiver.exports.length;
      const cpu = { plain: 0, traced: 0 };
      let errors = 0;
      for (let i = 0; i < turns; i++) {
        for (const [name, w] of [["plain", plain], ["traced", traced]]) {
          const before = cpuMs(w.pid);
          const result = await turn(w);
          if (!result.ok) errors++;
          if (name === "traced") {
            // Count the export too: wait for it to arrive before reading the CPU.
            const want = exportedBefore + i + 1;
            for (let t = 0; receiver.exports.length < want && t < 200; t++) await new Promise((r) => setTimeout(r, 5));
          }
          cpu[name] += cpuMs(w.pid) - before;
        }
      }
      const exported = receiver.exports.slice(exportedBefore);
      const bytes = exported.reduce((sum, e) => sum + e.raw.length, 0);
      const figure = {
        chunks,
        pace,
        turns,
        plain: cpu.plain / turns,
        traced: cpu.traced / turns,
        exports: exported.length,
        bytesPerTurn: bytes / Math.max(exported.length, 1),
        protobufPerTurn: exported.reduce((sum, e) => sum + (e.protobufBytes ?? 0), 0) / Math.max(exported.length, 1),
        decodeErrors: exported.filter((e) => e.error).length,
        errors,
      };
      figures.push(figure);
      console.log(
        `tracing ${chunks} chunks ${pace ? "paced 5 ms" : "bursty    "} cpu/turn off ${f(figure.plain)} ms on ${f(figure.traced)} ms (+${f(figure.traced - figure.plain)})  exported ${f(figure.bytesPerTurn, 0)} B/turn JSON (${f(figure.protobufPerTurn, 0)} B as protobuf)  exports ${figure.exports}/${turns}  errors ${errors}`,
      );
    }
  } finally {
    await plain.stop();
    await traced.stop();
    await receiver.close();
  }
  return figures;
}

/** CPU per chunk: least-squares slope of CPU per request over the 1, 50, 200 and 1000 chunk points. */
function slope(rows, target, pace) {
  const points = rows.filter((r) => r.target === target && r.point.pace === pace).map((r) => [r.point.chunks, r.cpu]);
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / points.length;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / points.length;
  const covariance = points.reduce((sum, [x, y]) => sum + (x - meanX) * (y - meanY), 0);
  const variance = points.reduce((sum, [x]) => sum + (x - meanX) ** 2, 0);
  return covariance / variance;
}

function writeResults(rows, loads, memory, startup, voice, tracing = []) {
  const cpu = cpus();
  const lines = [];
  const out = (s = "") => lines.push(s);
  out("# Streaming benchmark results");
  out();
  out(`Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench${QUICK ? " -- --quick" : ""}\` on ${cpu.length} cores (${cpu[0]?.model ?? "unknown CPU"}), Node ${process.version}.`);
  out("Each worker runs in its own workerd process (Miniflare API, no wrangler dev proxy); CPU is that process's utime+stime from /proc divided by requests.");
  out("It includes runtime I/O that Cloudflare does not bill, and the Rust worker's D1 reads and writes (agent, conversation, two messages) per request; compare per-chunk slopes.");
  out();
  out("## CPU per streamed chunk (least-squares slope over the 1, 50, 200 and 1000 chunk points)");
  out();
  out("| pacing | js-passthrough (floor) | js-parse (typical TS) | rust | rust ÷ floor | rust ÷ js-parse |");
  out("|---|---|---|---|---|---|");
  for (const pace of [0, 5]) {
    const a = slope(rows, "js-passthrough", pace);
    const b = slope(rows, "js-parse", pace);
    const r = slope(rows, "rust", pace);
    out(`| ${pace ? "paced 5 ms" : "bursty"} | ${f(a * 1000, 1)} µs | ${f(b * 1000, 1)} µs | ${f(r * 1000, 1)} µs | ${f(r / a)} | ${f(r / b)} |`);
  }
  out();
  out("## The OpenAI-compatible surface (`/v1/chat/completions`, streamed) next to the widget path");
  out();
  out("The same worker and agents; `rust` is the widget's chat stream, `rust-v1` the same answer as `chat.completion.chunk` events (stateless: no conversation read or stored; the spend read and the usage write instead).");
  out();
  out("| pacing | CPU/chunk rust | CPU/chunk rust-v1 | rust-v1 ÷ rust |");
  out("|---|---|---|---|");
  for (const pace of [0, 5]) {
    const r = slope(rows, "rust", pace);
    const v = slope(rows, "rust-v1", pace);
    out(`| ${pace ? "paced 5 ms" : "bursty"} | ${f(r * 1000, 1)} µs | ${f(v * 1000, 1)} µs | ${f(v / r)} |`);
  }
  out();
  out("| chunks | pacing | TTFB p50 rust | TTFB p50 rust-v1 | rust-v1 − rust |");
  out("|---|---|---|---|---|");
  for (const row of rows.filter((r) => r.target === "rust")) {
    const v1 = rows.find((r) => r.target === "rust-v1" && r.point === row.point);
    out(`| ${row.point.chunks} | ${row.point.pace ? "5 ms" : "bursty"} | ${f(row.ttfb50)} | ${f(v1.ttfb50)} | ${f(v1.ttfb50 - row.ttfb50)} |`);
  }
  out();
  out("## Per point (ms; latency minus direct-to-stand-in)");
  out();
  out("| chunks | pacing | worker | CPU/request | CPU/chunk | TTFB p50 | TTFB p99 | first token p50 | total p50 | total p99 | errors |");
  out("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const row of rows.filter((r) => r.target !== "direct")) {
    const direct = rows.find((r) => r.target === "direct" && r.point === row.point);
    out(
      `| ${row.point.chunks} | ${row.point.pace ? "5 ms" : "bursty"} | ${row.target} | ${f(row.cpu)} | ${f(row.cpu / row.point.chunks, 3)} | +${f(row.ttfb50 - direct.ttfb50)} | +${f(row.ttfb99 - direct.ttfb99)} | +${f(row.ttft50 - direct.ttft50)} | +${f(row.total50 - direct.total50)} | +${f(row.total99 - direct.total99)} | ${row.errors} |`,
    );
  }
  out();
  out("Direct to the stand-in (subtracted above):");
  out();
  out("| chunks | pacing | TTFB p50 | total p50 | total p99 |");
  out("|---|---|---|---|---|");
  for (const row of rows.filter((r) => r.target === "direct")) {
    out(`| ${row.point.chunks} | ${row.point.pace ? "5 ms" : "bursty"} | ${f(row.ttfb50)} | ${f(row.total50)} | ${f(row.total99)} |`);
  }
  out();
  out("## Concurrent streams (50 chunks, 5 ms apart)");
  out();
  out("| streams | worker | completed | errors | total p99 (ms) |");
  out("|---|---|---|---|---|");
  for (const load of loads) out(`| ${load.streams} | ${load.target} | ${load.completed} | ${load.errors} | ${f(load.p99)} |`);
  out();
  out("## Memory and size");
  out();
  out(`Peak resident memory of each workerd process over the whole run: js-passthrough ${f(memory.pass, 1)} MB, js-parse ${f(memory.parse, 1)} MB, rust ${f(memory.rust, 1)} MB.`);
  out();
  out("Built workers (`npm run bench:size`; `-- --modules` breaks the chat worker down by crate and module):");
  out();
  for (const line of sizeLines(workerSizes())) out(line);
  out();
  out(
    `Startup (spawn workerd to ready, median): rust (the chat worker) ${f(startup.rustStartMs, 1)} ms, one-file JS worker ${f(startup.jsStartMs, 1)} ms; the difference, ${f(startup.rustStartMs - startup.jsStartMs, 1)} ms, approximates wasm compile + instantiate + glue (plus the D1 binding's setup).`,
  );
  out();
  out(voiceMarkdown(voice));
  out();
  out("## Tracing (docs/observability.md)");
  out();
  out("The same turns, alternating between a worker without tracing and one exporting every turn (OTLP/HTTP JSON, content captured) to a loopback receiver; CPU per turn includes the export after the answer.");
  out();
  out("| chunks | pacing | turns | CPU/turn off | CPU/turn on | difference | bytes exported/turn (JSON) | as protobuf | exports | errors |");
  out("|---|---|---|---|---|---|---|---|---|---|");
  for (const t of tracing) {
    out(`| ${t.chunks} | ${t.pace ? "5 ms" : "bursty"} | ${t.turns} | ${f(t.plain)} ms | ${f(t.traced)} ms | +${f(t.traced - t.plain)} ms | ${f(t.bytesPerTurn, 0)} | ${f(t.protobufPerTurn, 0)} | ${t.exports} | ${t.errors + t.decodeErrors} |`);
  }
  // Sections measured by other runs (`npm run soak -- --write`, a `--first-token` comparison
  // written up by hand) are kept.
  let soak = "";
  try {
    const previous = readFileSync(join(root, "bench/RESULTS.md"), "utf8");
    for (const title of ["## First token before and after", "## Soak"]) {
      const at = previous.indexOf(`\n${title}`);
      if (at < 0) continue;
      const next = previous.indexOf("\n## ", at + 1);
      soak += `\n${previous.slice(at + 1, next >= 0 ? next : undefined).trimEnd()}\n`;
    }
  } catch {
    // No earlier results.
  }
  const text = lines.join("\n") + "\n" + soak;
  writeFileSync(join(root, "bench/RESULTS.md"), text);
  console.log(`\n${text}`);
}

/** `npm run bench -- --tracing [--quick]`: only the tracing figures, with the worker as built. */
async function tracingOnly() {
  const standin = await startStandIn();
  try {
    const figures = await tracingFigures(standin);
    console.log(JSON.stringify(figures, null, 1));
  } finally {
    await standin.close();
  }
}

/**
 * `npm run bench -- --first-token [--baseline DIR] [--prelude-only] [--quick]`: only time to first token, the
 * Rust worker (as built) against the JavaScript pass-through floor, and against another build
 * of the worker (`--baseline`, a copy of an earlier `build/`) when given. The targets take
 * turns batch by batch, so all of them see the same machine. Besides the bench's points it has
 * answers that begin as OpenRouter's do (a keep-alive comment and a role chunk first).
 */
async function firstTokenOnly() {
  const at = process.argv.indexOf("--baseline");
  const baseline = at >= 0 ? process.argv[at + 1] : null;
  const points = [
    { chunks: 1, pace: 0, requests: scale(200), concurrency: 1 },
    { chunks: 50, pace: 0, requests: scale(100), concurrency: 1 },
    { chunks: 1, pace: 5, requests: scale(200), concurrency: 10 },
    { chunks: 50, pace: 5, requests: scale(100), concurrency: 10 },
    { chunks: 200, pace: 5, requests: scale(50), concurrency: 10 },
    { chunks: 1000, pace: 5, requests: scale(20), concurrency: 10 },
    { chunks: 50, pace: 5, prelude: true, requests: scale(100), concurrency: 10 },
    { chunks: 20, pace: 20, prelude: true, requests: scale(60), concurrency: 1 },
    { chunks: 20, pace: 50, prelude: true, requests: scale(40), concurrency: 1 },
  ].filter((p) => !process.argv.includes("--prelude-only") || p.prelude);
  const modelOf = (p) => `scenario/bench/${p.chunks}/${p.pace}${p.prelude ? "/prelude" : ""}`;
  const agentOf = (p) => `bench-${p.chunks}-${p.pace}${p.prelude ? "-prelude" : ""}`;
  const standin = await startStandIn();
  const env = { OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "bench" };
  const pass = await startJsWorker("passthrough.mjs", `${standin.url}/v1`);
  const workers = [["rust", await startWorker(env)]];
  if (baseline) workers.push(["rust-baseline", await startWorker(env, { buildDir: baseline })]);
  try {
    for (const [, w] of workers) for (const p of points) await putAgent(w.db, { id: agentOf(p), config: { model: modelOf(p) } });
    const targets = [
      { name: "direct", url: () => `${standin.url}/v1/chat/completions`, body: (p) => JSON.stringify({ model: modelOf(p), stream: true, messages: [{ role: "user", content: "hi" }] }) },
      { name: "js-passthrough", url: (p) => `${pass.url}/${encodeURIComponent(modelOf(p))}`, body: () => chatBody("x") },
      ...workers.map(([name, w]) => ({ name, url: (p) => `${w.url}/api/agents/${agentOf(p)}/chat`, body: () => chatBody(`b_${randomUUID()}`) })),
    ];
    for (const point of points) {
      const ttft = Object.fromEntries(targets.map((t) => [t.name, []]));
      let errors = 0;
      for (const t of targets) await runMany(Math.min(10, point.requests), point.concurrency, () => timed(t.url(point), t.body(point)));
      for (let done = 0; done < point.requests; done += point.concurrency) {
        for (const t of targets) {
          const results = await Promise.all(Array.from({ length: point.concurrency }, () => timed(t.url(point), t.body(point))));
          for (const r of results) r.ok ? ttft[t.name].push(r.ttft) : errors++;
        }
      }
      const p50 = Object.fromEntries(Object.entries(ttft).map(([k, v]) => [k, percentile(v, 50)]));
      const over = workers.map(([name]) => `${name} ${f(p50[name])} (+${f(p50[name] - p50["js-passthrough"])} over the floor)`).join("  ");
      console.log(
        `${String(point.chunks).padStart(4)} chunks ${point.pace ? `paced ${point.pace} ms` : "bursty"}${point.prelude ? " after a prelude" : ""}, ${point.requests} requests, concurrency ${point.concurrency}: first token p50 direct ${f(p50.direct)}  floor ${f(p50["js-passthrough"])}  ${over}  errors ${errors}`,
      );
    }
  } finally {
    for (const [, w] of workers) await w.stop();
    await pass.stop();
    await standin.close();
  }
}

/**
 * `npm run bench -- --load [--baseline DIR] [--rounds N]`: only the concurrent streams (50
 * chunks, 5 ms apart), the widget's chat stream of the Rust worker (as built, and `--baseline`,
 * a copy of an earlier `build/` inside the project) against the JavaScript pass-through floor.
 * Each round starts every target in a fresh workerd process and sends it 100 then 500 streams,
 * the targets in turn, so all of them see the same machine; the figures are the medians over
 * the rounds of each one's total p99 and its process's peak resident memory.
 */
async function loadOnly() {
  const at = process.argv.indexOf("--baseline");
  const baseline = at >= 0 ? process.argv[at + 1] : null;
  const roundsAt = process.argv.indexOf("--rounds");
  const rounds = roundsAt >= 0 ? Number(process.argv[roundsAt + 1]) : 3;
  const standin = await startStandIn();
  const env = { OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "bench" };
  const point = { chunks: 50, pace: 5 };
  const model = `scenario/bench/${point.chunks}/${point.pace}`;
  const agent = `bench-${point.chunks}-${point.pace}`;
  const starters = [
    ["js-passthrough", async () => {
      const s = await withPid(() => startJsWorker("passthrough.mjs", `${standin.url}/v1`));
      return { ...s, target: `${s.url}/${encodeURIComponent(model)}` };
    }],
    ...[["rust", undefined], ...(baseline ? [["rust-baseline", baseline]] : [])].map(([name, buildDir]) => [name, async () => {
      const s = await withPid(() => startWorker(env, { admin: false, ...(buildDir ? { buildDir } : {}) }));
      await putAgent(s.db, { id: agent, config: { model } });
      return { ...s, target: `${s.url}/api/agents/${agent}/chat` };
    }]),
  ];
  const figures = Object.fromEntries(starters.map(([name]) => [name, { p99: { 100: [], 500: [] }, memory: [] }]));
  try {
    for (let round = 1; round <= rounds; round++) {
      // A different first target each round: none always runs on a machine the others warmed.
      const order = starters.map((_, i) => starters[(i + round) % starters.length]);
      for (const [name, start] of order) {
        const server = await start();
        try {
          await runMany(10, 10, () => timed(server.target, chatBody(`w_${randomUUID()}`)));
          for (const streams of LOADS) {
            const results = await Promise.all(Array.from({ length: streams }, () => timed(server.target, chatBody(`b_${randomUUID()}`))));
            const ok = results.filter((r) => r.ok);
            if (ok.length !== streams) throw new Error(`${name}: ${streams - ok.length} of ${streams} streams failed`);
            figures[name].p99[streams].push(percentile(ok.map((r) => r.total), 99));
          }
          figures[name].memory.push(peakMemoryMb(server.pid));
        } finally {
          await server.stop();
        }
        const last = figures[name];
        console.log(`round ${round} ${name.padEnd(15)} total p99 100 streams ${f(last.p99[100].at(-1))} ms, 500 streams ${f(last.p99[500].at(-1))} ms, peak memory ${f(last.memory.at(-1), 1)} MB`);
      }
    }
    const median = (values) => percentile(values, 50);
    const floor = figures["js-passthrough"];
    console.log(`\nMedians over ${rounds} rounds (each target in a fresh workerd per round):\n`);
    console.log("| worker | total p99, 100 streams | total p99, 500 streams | ÷ floor at 500 | peak memory | ÷ floor |");
    console.log("|---|---|---|---|---|---|");
    for (const [name, fig] of Object.entries(figures)) {
      const p500 = median(fig.p99[500]);
      const memory = median(fig.memory);
      console.log(`| ${name} | ${f(median(fig.p99[100]), 0)} ms | ${f(p500, 0)} ms | ${f(p500 / median(floor.p99[500]))} | ${f(memory, 1)} MB | ${f(memory / median(floor.memory))} |`);
    }
  } finally {
    await standin.close();
  }
}

const mode = process.argv.includes("--tracing")
  ? tracingOnly
  : process.argv.includes("--first-token")
    ? firstTokenOnly
    : process.argv.includes("--load")
      ? loadOnly
      : main;
mode().catch((error) => {
  console.error(error);
  process.exit(1);
});
