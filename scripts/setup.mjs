// Installs exactly what the build needs (see docs/development.md), skipping what is present:
// the wasm32 target, worker-build, the wasm-bindgen CLI matching Cargo.lock, and npm packages.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { capture, lockedVersion, root, run, step, which } from "./lib.mjs";

export const WORKER_BUILD_VERSION = "0.8.7";

function fail(piece, hint) {
  throw new Error(`setup: ${piece} is missing. ${hint}`);
}

async function cargoInstall(crate, version) {
  step(`Installing ${crate} ${version} from crates.io (first time only; takes several minutes)`);
  try {
    await run("cargo", ["install", crate, "--version", version, "--locked"]);
  } catch {
    // A crate's own lock file can pin a dependency version the registry no longer serves.
    step(`Retrying ${crate} ${version} without its lock file`);
    await run("cargo", ["install", crate, "--version", version]);
  }
}

function npmPackagesCurrent() {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  return Object.entries(pkg.devDependencies ?? {}).every(([name, version]) => {
    const installed = join(root, "node_modules", name, "package.json");
    return existsSync(installed) && JSON.parse(readFileSync(installed, "utf8")).version === version;
  });
}

/** Makes sure every build and test tool is installed. */
export async function setup() {
  if (!capture("cargo", ["--version"])) fail("cargo (Rust)", "Install Rust with rustup: https://rustup.rs");
  if (!capture("rustup", ["--version"])) fail("rustup", "Install Rust with rustup: https://rustup.rs");
  if (!capture("node", ["--version"]) || !capture("npm", ["--version"])) fail("Node.js/npm", "Install Node.js 20 or newer.");

  const targets = capture("rustup", ["target", "list", "--installed"]) ?? "";
  if (!targets.split("\n").includes("wasm32-unknown-unknown")) {
    step("Adding the wasm32-unknown-unknown Rust target");
    await run("rustup", ["target", "add", "wasm32-unknown-unknown"]);
  }

  if (!(capture("worker-build", ["--version"]) ?? "").includes(WORKER_BUILD_VERSION)) {
    await cargoInstall("worker-build", WORKER_BUILD_VERSION);
  }

  const bindgen = lockedVersion("wasm-bindgen");
  if (!(capture("wasm-bindgen", ["--version"]) ?? "").includes(bindgen)) {
    await cargoInstall("wasm-bindgen-cli", bindgen);
  }
  if (!which("wasm-bindgen")) fail(`wasm-bindgen ${bindgen}`, "cargo install put it outside PATH; add ~/.cargo/bin to PATH.");

  await setupNpm();
}

/** Only the npm packages (enough for the widget and dashboard builds, and Convex). */
export async function setupNpm() {
  if (!capture("node", ["--version"]) || !capture("npm", ["--version"])) fail("Node.js/npm", "Install Node.js 20 or newer.");
  if (!npmPackagesCurrent()) {
    step("Installing npm packages");
    const args = existsSync(join(root, "package-lock.json")) ? ["ci"] : ["install"];
    await run("npm", [...args, "--no-audit", "--no-fund"]);
  }
  if (!npmPackagesCurrent()) fail("npm packages", "`npm ci` did not install the versions package.json pins.");
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  setup().catch((error) => {
    console.error(error.message);
    process.exit(1);
  });
}
