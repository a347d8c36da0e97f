// `npm run bench:size`: what each worker weighs against the chat worker's 256 KiB gzip budget,
// and with `--modules`, what each crate and module of the chat worker costs (twiggy over a build
// that keeps its function names; installs twiggy with cargo the first time).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { capture, root, run, step } from "../scripts/lib.mjs";
import { buildNamedChatWorker, WORKERS } from "../scripts/build.mjs";

/** The chat worker's budget (issue #19): what the chat path ships, wasm and glue, gzip -9. */
export const CHAT_BUDGET = 256 * 1024;

/** Raw and gzip -9 bytes of each built worker's wasm and glue. */
export function workerSizes() {
  return WORKERS.filter((w) => existsSync(join(root, w.outDir, "index_bg.wasm"))).map((w) => {
    const wasm = readFileSync(join(root, w.outDir, "index_bg.wasm"));
    const js = readFileSync(join(root, w.outDir, "index.js"));
    const wasmGzip = gzipSync(wasm, { level: 9 }).length;
    const jsGzip = gzipSync(js, { level: 9 }).length;
    return { name: w.name, wasmRaw: wasm.length, wasmGzip, jsRaw: js.length, jsGzip, totalGzip: wasmGzip + jsGzip };
  });
}

/** One table row per worker, with the budget where there is one. */
export function sizeLines(sizes) {
  const kib = (n) => (n / 1024).toFixed(1);
  const lines = ["| worker | wasm | wasm gzip -9 | glue gzip -9 | total gzip | budget |", "|---|---|---|---|---|---|"];
  for (const s of sizes) {
    const budget = s.name === "chat" ? `${kib(CHAT_BUDGET)} KiB (${s.totalGzip <= CHAT_BUDGET ? "within" : `${kib(s.totalGzip - CHAT_BUDGET)} KiB over`})` : "none (off the chat path)";
    lines.push(`| ${s.name} | ${s.wasmRaw} B | ${s.wasmGzip} B | ${s.jsGzip} B | ${kib(s.totalGzip)} KiB | ${budget} |`);
  }
  return lines;
}

/** Shallow bytes per crate (and per module of ours) of a wasm with a names section. */
function byModule(csv) {
  const totals = new Map();
  for (const line of csv.split("\n").slice(1)) {
    const match = line.match(/^"?(.*?)"?,(\d+),/);
    if (!match) continue;
    const [, name, bytes] = match;
    const ours = name.match(/edge_agent_chat::([a-z_0-9]+)(?:::([a-z_0-9]+))?/);
    const other = name.match(/^[<&\s]*(?:mut\s+)?([a-z_0-9]+)/);
    const key = ours ? `ours: ${ours[1]}${ours[2] ? `::${ours[2]}` : ""}` : name.startsWith("data segment") ? "data (strings, tables)" : other ? other[1] : name.slice(0, 40);
    totals.set(key, (totals.get(key) ?? 0) + Number(bytes));
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

async function modules() {
  if (!capture("twiggy", ["--version"])) {
    step("Installing twiggy from crates.io (first time only)");
    await run("cargo", ["install", "twiggy", "--locked"]);
  }
  const outDir = ".cache/size-named";
  await buildNamedChatWorker(outDir);
  const csv = capture("twiggy", ["top", "-n", "1000000", "-f", "csv", join(root, outDir, "index_bg.wasm")], { maxBuffer: 1 << 28 }) ?? "";
  const rows = byModule(csv).filter(([key]) => !key.includes("function names"));
  const total = rows.reduce((sum, [, bytes]) => sum + bytes, 0);
  console.log(`\nThe chat worker's code and data by crate and module (twiggy shallow bytes, before gzip; ${total} B in all):\n`);
  console.log("| crate or module | bytes | share |\n|---|---|---|");
  for (const [key, bytes] of rows.slice(0, 40)) console.log(`| ${key} | ${bytes} | ${((100 * bytes) / total).toFixed(1)}% |`);
  console.log("\nAn async function's body is often inlined into its caller's state machine, so the biggest rows under `core` (`AssertUnwindSafe<F>::poll`, the request future) hold code of several modules.");
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sizes = workerSizes();
  if (sizes.length === 0) {
    console.error("No worker build found: run `npm run build` first.");
    process.exit(1);
  }
  console.log(sizeLines(sizes).join("\n"));
  if (process.argv.includes("--modules")) await modules();
}
