// Builds the two workers with registry-sourced tools only: the chat worker (build/index.js +
// build/index_bg.wasm: widget, /v1, MCP, voice) and the admin worker (build-admin/: management
// API, knowledge ingestion, scheduled jobs), one crate with two feature sets.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { npmBin, root, run, step, which } from "./lib.mjs";
import { setup } from "./setup.mjs";
import { buildWidget } from "./build-widget.mjs";

/** The two workers: output directory (relative to the root) and the crate features it is built with. */
export const WORKERS = [
  { name: "chat", outDir: "build", features: "chat" },
  { name: "admin", outDir: "build-admin", features: "admin" },
];

/** The environment worker-build needs to find its tools without downloading them. */
export function workerBuildEnv() {
  return { ...process.env, WASM_BINDGEN_BIN: which("wasm-bindgen"), WASM_OPT_BIN: npmBin("wasm-opt"), ESBUILD_BIN: npmBin("esbuild") };
}

/** The worker-build arguments of one worker. */
export const workerBuildArgs = ({ outDir, features }) => ["--release", "--out-dir", outDir, "--no-default-features", "--features", features];

/**
 * The chat worker with its wasm function names kept (for twiggy and CPU profiles), into
 * `outDir`. Its own cargo target directory: a build with another `strip` setting in `target/`
 * would make the next `npm run build` compile the crate again.
 */
export async function buildNamedChatWorker(outDir) {
  const chat = WORKERS.find((w) => w.name === "chat");
  step("Building the chat worker with its function names kept (strip = false)");
  const env = { ...workerBuildEnv(), CARGO_PROFILE_RELEASE_STRIP: "false", CARGO_TARGET_DIR: join(root, ".cache/named-target") };
  await run("worker-build", workerBuildArgs({ ...chat, outDir }), { env });
}

/** Compiles both workers to wasm, bundles their JavaScript glue, and builds public/. */
export async function build() {
  await setup();
  await buildWidget();
  for (const worker of WORKERS) {
    step(`Building the ${worker.name} worker (worker-build --release --features ${worker.features})`);
    await run("worker-build", workerBuildArgs(worker), { env: workerBuildEnv() });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  build().catch((error) => {
    console.error(error.message);
    process.exit(1);
  });
}
