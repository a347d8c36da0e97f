// Where the chat worker's CPU goes: a V8 CPU profile of its isolate (workerd's DevTools
// inspector) over streamed widget turns against the local stand-in, printed as the functions
// with the most self time and the most inclusive time. The worker is built with its function
// names kept (an unstripped build in .cache/profile/, not the one that ships).
//
//   node bench/profile.mjs [--chunks 50] [--pace 0] [--requests 300] [--concurrency 1] [--top 30]
//                          [--save file.cpuprofile]   (open it in Chrome DevTools' Performance tab)
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildNamedChatWorker } from "../scripts/build.mjs";
import { root } from "../scripts/lib.mjs";
import { setup } from "../scripts/setup.mjs";
import { startStandIn } from "../tests/support/standin.mjs";
import { putAgent, startWorker, TEST_ORIGIN, testKey } from "../tests/support/worker.mjs";
import { freePort } from "../tests/support/ports.mjs";
import { chatBody, cpuMs, inspect, withPid } from "./workerd.mjs";

const option = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1] : fallback;
};
const CHUNKS = Number(option("chunks", 50));
const PACE = Number(option("pace", 0));
const REQUESTS = Number(option("requests", 300));
const CONCURRENCY = Number(option("concurrency", 1));
const TOP = Number(option("top", 30));
const SAVE = option("save", null);

/** The chat worker with its wasm function names (the shipped build strips them). */
async function namedBuild() {
  await setup();
  const outDir = join(root, ".cache/profile/build");
  await buildNamedChatWorker(outDir);
  return outDir;
}

async function turn(url, agent) {
  const res = await fetch(`${url}/api/agents/${agent}/chat`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-publishable-key": testKey(agent), origin: TEST_ORIGIN },
    body: chatBody(`p_${randomUUID()}`),
  });
  const text = await res.text();
  if (!text.includes("[DONE]")) throw new Error(`turn failed: ${res.status} ${text.slice(0, 200)}`);
}

async function turns(url, agent, count) {
  let started = 0;
  const lane = async () => {
    while (started < count) {
      started++;
      await turn(url, agent);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
}

/** Self and inclusive milliseconds per function of a V8 CPU profile, and its time not idle. */
function summarize(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n) => {
    const { functionName, url, lineNumber } = n.callFrame;
    const where = url.startsWith("wasm://") ? "wasm" : url ? `${url.split("/").pop()}:${lineNumber + 1}` : "";
    return `${functionName || "(anonymous)"}${where && where !== "wasm" ? ` ${where}` : ""}`;
  };
  const self = new Map();
  const inclusive = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000;
    total += ms;
    const leaf = byId.get(id);
    self.set(name(leaf), (self.get(name(leaf)) ?? 0) + ms);
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const n = name(byId.get(at));
      if (seen.has(n)) continue;
      seen.add(n);
      inclusive.set(n, (inclusive.get(n) ?? 0) + ms);
    }
  });
  const top = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, TOP);
  return { busy: total - (self.get("(idle)") ?? 0), self: top(self), inclusive: top(inclusive) };
}

async function main() {
  const buildDir = await namedBuild();
  const standin = await startStandIn();
  const port = await freePort();
  const worker = await withPid(() =>
    startWorker({ OPENROUTER_BASE_URL: `${standin.url}/v1`, OPENROUTER_API_KEY: "bench" }, { admin: false, store: "d1", buildDir, inspectorPort: port }),
  );
  try {
    const agent = `profile-${CHUNKS}-${PACE}`;
    await putAgent(worker.db, { id: agent, config: { model: `scenario/bench/${CHUNKS}/${PACE}` } });
    const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
    const target = targets.find((t) => /chat/.test(`${t.id} ${t.title} ${t.url}`)) ?? targets[0];
    if (!target) throw new Error(`no inspector target on port ${port}`);
    const session = await inspect(target.webSocketDebuggerUrl);
    await turns(worker.url, agent, 30);
    await session.send("Profiler.enable");
    await session.send("Profiler.setSamplingInterval", { interval: 50 });
    const cpu0 = cpuMs(worker.pid);
    const wall0 = performance.now();
    await session.send("Profiler.start");
    await turns(worker.url, agent, REQUESTS);
    const { profile } = await session.send("Profiler.stop");
    const wall = performance.now() - wall0;
    const cpu = cpuMs(worker.pid) - cpu0;
    session.close();
    if (SAVE) writeFileSync(SAVE, JSON.stringify(profile));
    const { busy, self, inclusive } = summarize(profile);
    const f = (x) => x.toFixed(3).padStart(8);
    console.log(`${REQUESTS} turns (${CHUNKS} chunks, pace ${PACE} ms, concurrency ${CONCURRENCY}) in ${wall.toFixed(0)} ms; workerd process CPU ${(cpu / REQUESTS).toFixed(2)} ms/turn (D1 and the runtime included); the chat isolate's profile: ${(busy / REQUESTS).toFixed(2)} ms/turn outside (idle)`);
    console.log(`\nself time, ms per turn (${target.id ?? target.title})`);
    for (const [n, ms] of self) console.log(`${f(ms / REQUESTS)}  ${n}`);
    console.log("\ninclusive time, ms per turn");
    for (const [n, ms] of inclusive) console.log(`${f(ms / REQUESTS)}  ${n}`);
  } finally {
    await worker.stop();
    await standin.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
