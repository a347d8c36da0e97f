// Builds the worker (build/index.js + build/index_bg.wasm) with registry-sourced tools only.
import { pathToFileURL } from "node:url";
import { npmBin, run, step, which } from "./lib.mjs";
import { setup } from "./setup.mjs";
import { buildWidget } from "./build-widget.mjs";

/** Compiles the Rust worker to wasm, bundles its JavaScript glue, and builds public/. */
export async function build() {
  await setup();
  await buildWidget();
  step("Building the worker (worker-build --release)");
  await run("worker-build", ["--release"], {
    env: {
      ...process.env,
      WASM_BINDGEN_BIN: which("wasm-bindgen"),
      WASM_OPT_BIN: npmBin("wasm-opt"),
      ESBUILD_BIN: npmBin("esbuild"),
    },
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  build().catch((error) => {
    console.error(error.message);
    process.exit(1);
  });
}
