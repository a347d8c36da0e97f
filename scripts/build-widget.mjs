// Builds the static assets into public/: the embeddable widget (widget/src, minified with
// esbuild: widget.js is the loader, chat-panel.js/.css the panel it loads), the tenant dashboard
// (dashboard/: its ES modules bundled into admin/admin.js), the demo site (widget/site, copied as
// is) and the OpenAPI document.
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { root, step } from "./lib.mjs";

export const PUBLIC = join(root, "public");

/**
 * The oldest browsers the widget and dashboard run in (docs/widget.md, "Browser support").
 * Firefox 105 brought TextDecoderStream, Chrome/Edge 86 replaceChildren, Safari 14.1 the
 * streams the chat reads; esbuild lowers newer syntax for them or fails the build.
 */
export const BROWSER_FLOOR = ["chrome86", "edge86", "firefox105", "safari14.1"];

/**
 * Bundles one entry for the browser floor. esbuild turns a regular expression it cannot lower
 * (such as a lookbehind, which Safari < 16.4 cannot parse) into `new RegExp(…)`, which would
 * throw on those browsers at load; our sources never write `new RegExp`, so one in the output
 * fails the build instead.
 */
export async function bundle(options) {
  const { build } = await import("esbuild");
  const result = await build({
    bundle: true,
    minify: true,
    target: BROWSER_FLOOR,
    legalComments: "none",
    logLevel: "silent",
    write: false,
    ...options,
  });
  for (const file of result.outputFiles) {
    if (file.text.includes("new RegExp(")) {
      throw new Error(
        `${options.entryPoints.join(", ")}: uses regular-expression syntax (such as a lookbehind) that ` +
          `browsers at the floor (${BROWSER_FLOOR.join(", ")}) cannot parse; rewrite it without.`,
      );
    }
  }
  const { writeFileSync } = await import("node:fs");
  for (const file of result.outputFiles) {
    mkdirSync(join(file.path, ".."), { recursive: true });
    writeFileSync(file.path, file.contents);
  }
  return result;
}

/** The parts of public/, each rebuilt on its own by the dev watchers. */
export const PARTS = {
  /** The demo site (widget/site, as is) and the OpenAPI document served at /api/openapi.json. */
  async site() {
    cpSync(join(root, "widget", "site"), PUBLIC, { recursive: true });
    cpSync(join(root, "openapi.json"), join(PUBLIC, "openapi.json"));
  },
  async widget() {
    await bundle({ entryPoints: [join(root, "widget/src/loader.js")], outfile: join(PUBLIC, "widget.js"), format: "iife" });
    await bundle({ entryPoints: [join(root, "widget/src/panel.js")], outfile: join(PUBLIC, "chat-panel.js"), format: "iife" });
    await bundle({ entryPoints: [join(root, "widget/src/panel.css")], outfile: join(PUBLIC, "chat-panel.css") });
  },
  async dashboard() {
    const admin = join(PUBLIC, "admin");
    mkdirSync(admin, { recursive: true });
    for (const file of ["index.html", "admin.css", "favicon.svg"]) cpSync(join(root, "dashboard", file), join(admin, file));
    await bundle({ entryPoints: [join(root, "dashboard/src/main.js")], outfile: join(admin, "admin.js"), format: "esm" });
  },
};

/** Writes public/ from widget/ and dashboard/ (from scratch unless `clean` is false). */
export async function buildWidget({ clean = true, quiet = false } = {}) {
  if (!quiet) step("Building the widget, dashboard and demo site into public/");
  // esbuild is imported in bundle(): on a fresh clone it exists only after setup's `npm ci`.
  if (clean) rmSync(PUBLIC, { recursive: true, force: true });
  mkdirSync(PUBLIC, { recursive: true });
  for (const part of Object.values(PARTS)) await part();
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  buildWidget().catch((error) => {
    console.error(error.message);
    process.exit(1);
  });
}
