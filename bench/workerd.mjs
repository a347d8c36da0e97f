// What the benchmarks read about the workerd processes they start: which process a start
// spawned, its CPU time and memory from /proc, and the JavaScript workers they compare against.
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import WebSocket from "ws";
import { root } from "../scripts/lib.mjs";

/** The body of one widget chat turn, as the widget sends a conversation's first message: "hi"
 * in the new conversation `chatId`. */
export const chatBody = (chatId) =>
  JSON.stringify({ id: chatId, first: true, messages: [{ id: `u_${randomUUID()}`, role: "user", parts: [{ type: "text", text: "hi" }] }] });

const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

/** The parent of process `pid`, or null once it is gone. */
const parentOf = (pid) => {
  try {
    // The command name is in parentheses and may hold spaces; the parent follows the state.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1];
  } catch {
    return null;
  }
};

/** Whether `pid` was started by this process (at any depth): other benchmarks and test runs on
 * the same machine start workerd processes too, and must not be measured in their place. */
const isOurs = (pid) => {
  for (let p = pid, depth = 0; p && p !== "0" && depth < 16; p = parentOf(p), depth++) {
    if (p === String(process.pid)) return true;
  }
  return false;
};

/** The ids of the running workerd processes this process started. */
export const workerdPids = () =>
  new Set(
    readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/comm`, "utf8").trim() === "workerd" && isOurs(p);
        } catch {
          return false;
        }
      }),
  );

/** Starts something that spawns one workerd; returns it with that process id. */
export async function withPid(start) {
  const before = workerdPids();
  const started = await start();
  const pid = [...workerdPids()].find((p) => !before.has(p));
  if (!pid) throw new Error("could not find the workerd process");
  return { ...started, pid };
}

/** CPU time (user + system) of `pid` so far, in ms. */
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** Peak resident memory of `pid` in MB. */
export function peakMemoryMb(pid) {
  const match = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmHWM:\s+(\d+) kB/);
  return match ? Number(match[1]) / 1024 : NaN;
}

/** Resident memory of `pid` in MB; NaN once the process is gone. */
export const rssMb = (pid) => {
  try {
    const match = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
    return match ? Number(match[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
};

/** One of bench/workers/ in its own workerd, forwarding to `upstream`. */
export async function startJsWorker(file, upstream) {
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    modules: true,
    scriptPath: join(root, "bench/workers", file),
    compatibilityDate: "2026-04-20",
    bindings: { UPSTREAM: upstream },
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return { url, stop: () => mf.dispose() };
}

/** The `p`th percentile of `values` (NaN for none). */
export const percentile = (values, p) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

/**
 * Puts `section` (Markdown starting with `## <title>`) into bench/RESULTS.md in place of the
 * section of that title, or at the end when there is none: for the runs that measure one part
 * (`npm run soak -- --write`, `node bench/voice.mjs --write`).
 */
export function writeResultsSection(title, section) {
  const file = join(root, "bench/RESULTS.md");
  const text = readFileSync(file, "utf8");
  const start = text.indexOf(`\n## ${title}\n`);
  const next = start >= 0 ? text.indexOf("\n## ", start + 1) : -1;
  const body = `${section.trimEnd()}\n`;
  const updated = start < 0 ? `${text.trimEnd()}\n\n${body}` : `${text.slice(0, start + 1)}${body}${next >= 0 ? `\n${text.slice(next + 1)}` : ""}`;
  writeFileSync(file, updated);
}

/** A DevTools protocol session over the inspector's WebSocket. */
export async function inspect(url) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let next = 0;
  const waiting = new Map();
  ws.on("message", (data) => {
    const message = JSON.parse(data.toString());
    const pending = waiting.get(message.id);
    if (!pending) return;
    waiting.delete(message.id);
    if (message.error) pending.reject(new Error(`${message.error.message}`));
    else pending.resolve(message.result);
  });
  // A method the inspector never answers (workerd leaves some unanswered) fails after 30 s
  // rather than holding the caller forever.
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = ++next;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`the inspector did not answer ${method}`));
      }, 30_000);
      const settle = (f) => (value) => {
        clearTimeout(timer);
        f(value);
      };
      waiting.set(id, { resolve: settle(resolve), reject: settle(reject) });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => ws.close() };
}

/**
 * Sessions on every isolate of the workerd whose inspector listens on `port`, and `heaps()`,
 * which reads each isolate's V8 heap (`Runtime.getHeapUsage`): `{total, used}` in MB summed
 * over the isolates, and `byIsolate` (name → {total, used}); `liveHeap(name)` collects that
 * isolate's garbage first.
 */
export async function watchHeaps(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const sessions = await Promise.all(targets.map(async (t) => ({ name: t.id.split(":").slice(-2).join(":"), session: await inspect(t.webSocketDebuggerUrl) })));
  const mb = (bytes) => bytes / 1048576;
  const heaps = async () => {
    const byIsolate = {};
    let total = 0;
    let used = 0;
    for (const { name, session } of sessions) {
      const usage = await session.send("Runtime.getHeapUsage");
      byIsolate[name] = { total: mb(usage.totalSize), used: mb(usage.usedSize) };
      total += mb(usage.totalSize);
      used += mb(usage.usedSize);
    }
    return { total, used, byIsolate };
  };
  /** The V8 heap `name`'s isolate still uses after a full garbage collection, MB (what it holds on to). */
  const liveHeap = async (name) => {
    const found = sessions.find((s) => s.name === name);
    if (!found) return NaN;
    await found.session.send("HeapProfiler.collectGarbage");
    return mb((await found.session.send("Runtime.getHeapUsage")).usedSize);
  };
  return { heaps, liveHeap, close: () => sessions.forEach(({ session }) => session.close()) };
}
