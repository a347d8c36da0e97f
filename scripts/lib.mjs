// Small helpers shared by the setup, build, dev and test scripts (Node built-ins only, so they
// run on a fresh clone before `npm install`).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const cargoBin = join(process.env.CARGO_HOME ?? join(homedir(), ".cargo"), "bin");
if (!(process.env.PATH ?? "").split(delimiter).includes(cargoBin)) {
  process.env.PATH = `${cargoBin}${delimiter}${process.env.PATH ?? ""}`;
}
// wrangler must never phone home from tests or dev runs.
process.env.WRANGLER_SEND_METRICS ??= "false";
process.env.NO_UPDATE_NOTIFIER ??= "1";

/** Prints a step header. */
export function step(text) {
  console.log(`\n▸ ${text}`);
}

/** Runs a command with inherited output; rejects with a message naming it on failure. */
export function run(cmd, args, options = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: "inherit", ...options });
    child.on("error", (error) => reject(new Error(`could not start ${cmd}: ${error.message}`)));
    child.on("exit", (code, signal) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`${cmd} ${args.join(" ")} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

/** Runs a command and returns its trimmed stdout, or null when it is missing or fails. */
export function capture(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { cwd: root, encoding: "utf8", ...options });
  return result.status === 0 ? result.stdout.trim() : null;
}

/** Full path of an executable on PATH, or null. */
export function which(cmd) {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, cmd);
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

/** The exact version of a crate locked in Cargo.lock. */
export function lockedVersion(crate) {
  const lock = readFileSync(join(root, "Cargo.lock"), "utf8");
  const match = lock.match(new RegExp(`\\[\\[package\\]\\]\\nname = "${crate}"\\nversion = "([^"]+)"`));
  if (!match) throw new Error(`${crate} is not in Cargo.lock`);
  return match[1];
}

/** The local binary of an npm package. */
export function npmBin(name) {
  return join(root, "node_modules", ".bin", name);
}
