// `npm test`: every check and test: formatting, lints, Rust unit tests, the wasm build, then the
// end-to-end suites (workerd via Miniflare and wrangler dev) against local stand-ins.
import { capture, root, run, step } from "./lib.mjs";
import { build } from "./build.mjs";
import { setup } from "./setup.mjs";

async function ensureComponent(component, probe) {
  if (!capture("cargo", [probe, "--version"])) {
    step(`Adding the ${component} Rust component`);
    await run("rustup", ["component", "add", component]);
  }
}

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
  step("Rust unit tests");
  await run("cargo", ["test"]);
  await build();
  step("End-to-end tests");
  await run(process.execPath, ["--test", "tests/e2e/"], { cwd: root });
  console.log(`\nAll tests passed in ${Math.round((Date.now() - started) / 1000)} s.`);
}

main().catch((error) => {
  console.error(`\n${error.message}`);
  process.exit(1);
});
