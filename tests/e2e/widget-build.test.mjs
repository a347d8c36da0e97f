// The widget's browser floor (docs/widget.md): the build refuses syntax those browsers cannot
// parse (a regular-expression lookbehind breaks the whole script on Safari < 16.4), and the
// real sources pass.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { BROWSER_FLOOR, bundle } from "../../scripts/build-widget.mjs";

const root = new URL("../..", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "widget-build-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("a lookbehind in widget code fails the build, naming the browser floor", async () => {
  const entry = join(dir, "bad.js");
  writeFileSync(entry, "export var WORD = /(?<!\\w)_x_/; window.w = WORD;\n");
  await assert.rejects(bundle({ entryPoints: [entry], outfile: join(dir, "bad.out.js"), format: "iife" }), (e) => {
    assert.match(e.message, /lookbehind/);
    assert.match(e.message, /safari14\.1/);
    return true;
  });
});

test("syntax newer than the floor is lowered, and the widget and dashboard build clean", async () => {
  const entry = join(dir, "new.js");
  // Class static blocks arrived in Safari 16.4: esbuild must rewrite them for the floor.
  writeFileSync(entry, "class A { static { window.s = 1; } } window.A = A;\n");
  await bundle({ entryPoints: [entry], outfile: join(dir, "new.out.js"), format: "iife" });
  assert.doesNotMatch(readFileSync(join(dir, "new.out.js"), "utf8"), /static\s*\{/, "a static block is lowered for the floor");
  assert.ok(BROWSER_FLOOR.includes("safari14.1"));
  for (const [src, format] of [["widget/src/loader.js", "iife"], ["widget/src/panel.js", "iife"], ["dashboard/src/main.js", "esm"]]) {
    await bundle({ entryPoints: [join(root, src)], outfile: join(dir, src.replaceAll("/", "_")), format });
  }
});
