// Builds the static assets into public/: the embeddable widget (widget/src, minified with
// esbuild: widget.js is the loader, chat-panel.js/.css the panel it loads) and the demo site
// (widget/site, copied as is), plus the OpenAPI document.
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { root, step } from "./lib.mjs";

export const PUBLIC = join(root, "public");

/** Writes public/ from widget/. */
export async function buildWidget() {
  step("Building the widget and demo site into public/");
  // Imported here: on a fresh clone esbuild exists only after setup has run `npm ci`.
  const { build } = await import("esbuild");
  rmSync(PUBLIC, { recursive: true, force: true });
  mkdirSync(PUBLIC, { recursive: true });
  cpSync(join(root, "widget", "site"), PUBLIC, { recursive: true });
  // The API document, served at /api/openapi.json (the worker reads it from the assets).
  cpSync(join(root, "openapi.json"), join(PUBLIC, "openapi.json"));
  const common = { bundle: true, minify: true, target: ["es2020"], legalComments: "none", logLevel: "warning" };
  await build({ ...common, entryPoints: [join(root, "widget/src/loader.js")], outfile: join(PUBLIC, "widget.js"), format: "iife" });
  await build({ ...common, entryPoints: [join(root, "widget/src/panel.js")], outfile: join(PUBLIC, "chat-panel.js"), format: "iife" });
  await build({ ...common, entryPoints: [join(root, "widget/src/panel.css")], outfile: join(PUBLIC, "chat-panel.css") });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  buildWidget().catch((error) => {
    console.error(error.message);
    process.exit(1);
  });
}
