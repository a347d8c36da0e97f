// `npm test`: every check and test: formatting, lints, Rust unit tests, the wasm build, then the
// end-to-end suites (workerd via Miniflare and wrangler dev) against local stand-ins.
import { existsSync } from "node:fs";
import { capture, npmBin, root, run, step } from "./lib.mjs";
import { build, WORKERS } from "./build.mjs";
import { setup } from "./setup.mjs";

async function ensureComponent(component, probe) {
  if (!capture("cargo", [probe, "--version"])) {
    step(`Adding the ${component} Rust component`);
    await run("rustup", ["component", "add", component]);
  }
}

/** Debian's Chromium for the browser tests (playwright-core drives it; it downloads no browser). */
async function ensureChromium() {
  const path = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
  if (existsSync(path)) return;
  step("Installing Debian's chromium for the browser tests");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const asRoot = process.getuid?.() === 0;
  const apt = (args) => run(asRoot ? "apt-get" : "sudo", asRoot ? args : ["apt-get", ...args], { env });
  await apt(["update", "-q"]);
  await apt(["install", "-y", "-q", "--no-install-recommends", "chromium"]);
  if (!existsSync(path)) throw new Error(`chromium is still missing at ${path}: install it (apt-get install chromium) or set CHROMIUM_PATH`);
}

/** How many test files run at once (`TEST_CONCURRENCY` overrides). */
const CONCURRENCY = `--test-concurrency=${process.env.TEST_CONCURRENCY || 2}`;
/** The spec reporter repeats every failing test at the end, so the tail of a CI log names it. */
const REPORTER = ["--test-reporter=spec", "--test-reporter-destination=stdout"];

async function main() {
  const started = Date.now();
  await setup();
  await ensureComponent("rustfmt", "fmt");
  await ensureComponent("clippy", "clippy");
  step("cargo fmt --check");
  await run("cargo", ["fmt", "--check"]);
  step("cargo clippy (host and wasm32)");
  await run("cargo", ["clippy", "--all-targets", "--", "-D", "warnings"]);
  await run("cargo", ["clippy", "--lib", "--target", "wasm32-unknown-unknown", "--", "-D", "warnings"]);
  // Each worker's own feature set (scripts/build.mjs), so neither half leaves code unused.
  for (const { features } of WORKERS) {
    await run("cargo", ["clippy", "--lib", "--target", "wasm32-unknown-unknown", "--no-default-features", "--features", features, "--", "-D", "warnings"]);
  }
  step("Rust unit tests");
  await run("cargo", ["test"]);
  await build();
  step("Convex functions (tsc --noEmit, then vitest + convex-test)");
  await run(npmBin("tsc"), ["--noEmit", "-p", "convex"]);
  await run(npmBin("vitest"), ["run", "--config", "convex/vitest.config.ts"]);
  await ensureChromium();
  step("End-to-end and browser tests (store: D1)");
  // Two files at a time: most of a suite's time is spent waiting on workerd, the stand-ins and
  // timers, so a 2-core machine finishes sooner without the suites' time margins getting tight.
  await run(process.execPath, ["--test", CONCURRENCY, ...REPORTER, "tests/e2e/", "tests/browser/"], { cwd: root });
  step("Fuzzing the API against its OpenAPI document (schemathesis)");
  await run(process.execPath, ["tests/fuzz/run.mjs"], { cwd: root });
  step("The store conformance suites again, on Convex (the local Convex stand-in)");
  await run(process.execPath, ["--test", CONCURRENCY, ...REPORTER, "tests/e2e/chat.test.mjs", "tests/e2e/security.test.mjs", "tests/e2e/management.test.mjs", "tests/e2e/mcp-client.test.mjs", "tests/e2e/mcp-server.test.mjs", "tests/e2e/knowledge.test.mjs", "tests/e2e/voice.test.mjs", "tests/e2e/openai.test.mjs", "tests/e2e/observe.test.mjs", "tests/e2e/privacy.test.mjs"], {
    cwd: root,
    env: { ...process.env, TEST_STORE: "convex" },
  });
  console.log(`\nAll tests passed in ${Math.round((Date.now() - started) / 1000)} s.`);
}

main().catch((error) => {
  console.error(`\n${error.message}`);
  process.exit(1);
});
