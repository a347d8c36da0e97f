// Checks of the OpenAPI document (openapi.json): every operation answered, every $ref
// resolvable, one error shape, every operation in the API reference. That it lists exactly the
// worker's routes is checked against the route table itself, in Rust
// (`http::routes::tests::the_openapi_document_describes_exactly_the_route_table`). Reads files
// only; needs no build.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";

const root = new URL("../..", import.meta.url).pathname;
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];


/** Every operation of the document as [method, path, operation]. */
function operations(doc) {
  return Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m) => [m.toUpperCase(), path, item[m]]),
  );
}

/** Resolves a local JSON pointer (`#/components/schemas/Agent`) in `doc`, or returns undefined. */
function resolvePointer(doc, ref) {
  if (!ref.startsWith("#")) return undefined;
  const tokens = ref.slice(1).split("/").slice(1).map((t) => decodeURIComponent(t).replace(/~1/g, "/").replace(/~0/g, "~"));
  let node = doc;
  for (const token of tokens) {
    if (node === null || typeof node !== "object" || !Object.hasOwn(node, token)) return undefined;
    node = node[token];
  }
  return node;
}

/** Every `$ref` in `node` with the JSON path where it stands. */
function refs(node, at = "#", found = []) {
  if (Array.isArray(node)) node.forEach((child, i) => refs(child, `${at}/${i}`, found));
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") found.push({ at, ref: v });
      else refs(v, `${at}/${k}`, found);
    }
  }
  return found;
}

const doc = JSON.parse(readFileSync(join(root, "openapi.json"), "utf8"));

describe("openapi.json", () => {
  test("is an OpenAPI 3.1 document", () => {
    assert.match(String(doc.openapi), /^3\.1\.\d+$/);
    assert.equal(typeof doc.info?.title, "string");
    assert.equal(typeof doc.info?.version, "string");
    assert.equal(typeof doc.paths, "object");
  });

  test("every operation has responses, a unique operationId and its path parameters", () => {
    const ids = new Set();
    for (const [method, path, op] of operations(doc)) {
      const where = `${method} ${path}`;
      assert.ok(op.responses && Object.keys(op.responses).length > 0, `${where} has no responses`);
      for (const status of Object.keys(op.responses)) assert.match(status, /^([1-5]\d\d|[1-5]XX|default)$/, `${where}: response key ${status}`);
      // A WebSocket endpoint succeeds with 101 Switching Protocols.
      assert.ok(Object.keys(op.responses).some((s) => /^2/.test(s) || s === "101"), `${where} has no success response`);
      assert.ok(op.operationId, `${where} has no operationId`);
      assert.ok(!ids.has(op.operationId), `${where}: operationId ${op.operationId} is used twice`);
      ids.add(op.operationId);
      const declared = [...(doc.paths[path].parameters ?? []), ...(op.parameters ?? [])]
        .map((p) => (p.$ref ? resolvePointer(doc, p.$ref) : p))
        .filter((p) => p?.in === "path")
        .map((p) => p.name)
        .sort();
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      assert.deepEqual(declared, templated, `${where}: path parameters`);
    }
  });

  test("every $ref resolves inside the document", () => {
    const found = refs(doc);
    assert.ok(found.length > 0, "the document uses no $ref components");
    const broken = found.filter(({ ref }) => resolvePointer(doc, ref) === undefined).map(({ at, ref }) => `${at}: ${ref}`);
    assert.deepEqual(broken, []);
  });

  test("errors are the one error shape (OpenAI's on /v1)", () => {
    const error = doc.components?.schemas?.Error;
    assert.ok(error, "components.schemas.Error is missing");
    assert.deepEqual(error.required, ["error"]);
    assert.deepEqual([...error.properties.error.required].sort(), ["code", "message"]);
    const openai = doc.components?.schemas?.OpenAIError;
    assert.ok(openai, "components.schemas.OpenAIError is missing");
    assert.deepEqual([...openai.properties.error.required].sort(), ["code", "message", "param", "type"]);
    for (const [method, path, op] of operations(doc)) {
      const shape = path.startsWith("/v1/") ? "#/components/schemas/OpenAIError" : "#/components/schemas/Error";
      for (const [status, response] of Object.entries(op.responses)) {
        if (!/^[45]/.test(status)) continue;
        const resolved = response.$ref ? resolvePointer(doc, response.$ref) : response;
        const schema = resolved?.content?.["application/json"]?.schema;
        const text = JSON.stringify(schema ?? null);
        assert.ok(text.includes(`${shape}"`), `${method} ${path} ${status} is not an ${shape.split("/").at(-1)}`);
      }
    }
  });

  test("the API reference pages cover every operation of the document", () => {
    // /v1 is described on its own page.
    const page = ["docs/api-reference.md", "docs/openai-api.md", "docs/mcp.md"].map((f) => readFileSync(join(root, f), "utf8")).join("\n");
    // The page names paths with `{id}`-style placeholders of its own: compare the fixed parts.
    const shape = (path) => path.replace(/\{[^}]+\}/g, "{}");
    const written = new Set([...page.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/(?:api|v1|mcp|voice|\.well-known)(?:\/[^`?\s]*)?)/g)].map((m) => `${m[1]} ${shape(m[2])}`));
    for (const line of page.split("\n").filter((l) => l.startsWith("## `"))) {
      for (const m of line.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/(?:api|v1|mcp|voice|\.well-known)(?:\/[^`?\s]*)?)`/g)) written.add(`${m[1]} ${shape(m[2])}`);
    }
    const missing = operations(doc)
      .map(([method, path]) => `${method.toUpperCase()} ${shape(path)}`)
      .filter((op) => !written.has(op));
    assert.deepEqual(missing, [], "operations the API reference does not describe");
  });
});
