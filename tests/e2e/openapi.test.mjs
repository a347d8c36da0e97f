// Drift check between the OpenAPI document (openapi.json) and the worker's route table
// (`ENDPOINTS` in src/api/routes.rs): same endpoints, every operation answered, every $ref
// resolvable. Reads files only; needs no build.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";

const root = new URL("../..", import.meta.url).pathname;
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** The endpoint list as of the OpenAPI document's introduction, used until routes.rs has ENDPOINTS. */
const FALLBACK_ENDPOINTS = [
  ["GET", "/api/health"],
  ["GET", "/api/openapi.json"],
  ["POST", "/api/agents/{agentId}/chat"],
  ["GET", "/api/agents/{agentId}/conversations/{conversationId}"],
  ["POST", "/api/agents/{agentId}/conversations/{conversationId}/messages/{messageId}/feedback"],
  ["POST", "/api/agents/{agentId}/visitor"],
  ["GET", "/api/agents/{agentId}/config"],
  ["GET", "/api/widget/config"],
  ["GET", "/api/admin/tenants"],
  ["POST", "/api/admin/tenants"],
  ["GET", "/api/admin/tenants/{tenantId}"],
  ["PATCH", "/api/admin/tenants/{tenantId}"],
  ["GET", "/api/admin/tenant"],
  ["GET", "/api/admin/agents"],
  ["POST", "/api/admin/agents"],
  ["GET", "/api/admin/agents/{agentId}"],
  ["PATCH", "/api/admin/agents/{agentId}"],
  ["DELETE", "/api/admin/agents/{agentId}"],
  ["POST", "/api/admin/agents/{agentId}/duplicate"],
  ["POST", "/api/admin/agents/{agentId}/tools/{toolName}/test"],
  ["GET", "/api/admin/keys"],
  ["POST", "/api/admin/keys"],
  ["DELETE", "/api/admin/keys/{keyId}"],
  ["POST", "/api/admin/secrets/{secret}"],
  ["GET", "/api/admin/conversations"],
  ["GET", "/api/admin/conversations/{conversationId}"],
  ["DELETE", "/api/admin/conversations/{conversationId}"],
  ["GET", "/api/admin/feedback"],
  ["GET", "/api/admin/usage"],
];

/**
 * The `ENDPOINTS: &[(&str, &str)]` table of routes.rs as [method, path] pairs (rustfmt may put a
 * tuple on several lines), or null when the file has no such table.
 */
export function endpointsFromRust(source) {
  const start = source.search(/pub\s+const\s+ENDPOINTS\s*:\s*&\s*\[\s*\(\s*&str\s*,\s*&str\s*\)\s*\]\s*=\s*&\s*\[/);
  if (start < 0) return null;
  const open = source.indexOf("&[", source.indexOf("=", start)) + 2;
  const close = source.indexOf("];", open);
  assert.ok(close > open, "the ENDPOINTS table in routes.rs has no end");
  const body = source.slice(open, close).replace(/\/\/[^\n]*/g, "");
  const pairs = [...body.matchAll(/\(\s*"([^"]+)"\s*,\s*"([^"]+)"\s*,?\s*\)/g)].map((m) => [m[1], m[2]]);
  const leftover = body.replace(/\(\s*"([^"]+)"\s*,\s*"([^"]+)"\s*,?\s*\)/g, "").replace(/[\s,]/g, "");
  assert.equal(leftover, "", "the ENDPOINTS table in routes.rs has entries this test cannot read");
  return pairs;
}

function loadEndpoints() {
  const source = readFileSync(join(root, "src/api/routes.rs"), "utf8");
  const parsed = endpointsFromRust(source);
  if (parsed) return { endpoints: parsed, from: "src/api/routes.rs ENDPOINTS" };
  console.log("# note: src/api/routes.rs has no ENDPOINTS table yet; comparing with the list kept in tests/e2e/openapi.test.mjs");
  return { endpoints: FALLBACK_ENDPOINTS, from: "the fallback list in openapi.test.mjs" };
}

const key = ([method, path]) => `${method.toUpperCase()} ${path}`;

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

  test("describes exactly the endpoints of the route table", () => {
    const { endpoints, from } = loadEndpoints();
    assert.ok(endpoints.length > 0, `no endpoints read from ${from}`);
    const expected = new Set(endpoints.map(key));
    assert.equal(expected.size, endpoints.length, `${from} lists an endpoint twice`);
    const documented = new Set(operations(doc).map(([m, p]) => key([m, p])));
    const missing = [...expected].filter((e) => !documented.has(e));
    const extra = [...documented].filter((d) => !expected.has(d));
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `openapi.json and ${from} disagree`);
  });

  test("every operation has responses, a unique operationId and its path parameters", () => {
    const ids = new Set();
    for (const [method, path, op] of operations(doc)) {
      const where = `${method} ${path}`;
      assert.ok(op.responses && Object.keys(op.responses).length > 0, `${where} has no responses`);
      for (const status of Object.keys(op.responses)) assert.match(status, /^([1-5]\d\d|[1-5]XX|default)$/, `${where}: response key ${status}`);
      assert.ok(Object.keys(op.responses).some((s) => /^2/.test(s)), `${where} has no success response`);
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

  test("errors are the one error shape", () => {
    const error = doc.components?.schemas?.Error;
    assert.ok(error, "components.schemas.Error is missing");
    assert.deepEqual(error.required, ["error"]);
    assert.deepEqual([...error.properties.error.required].sort(), ["code", "message"]);
    for (const [method, path, op] of operations(doc)) {
      for (const [status, response] of Object.entries(op.responses)) {
        if (!/^[45]/.test(status)) continue;
        const resolved = response.$ref ? resolvePointer(doc, response.$ref) : response;
        const schema = resolved?.content?.["application/json"]?.schema;
        const text = JSON.stringify(schema ?? null);
        assert.ok(text.includes("#/components/schemas/Error"), `${method} ${path} ${status} is not an Error`);
      }
    }
  });

  test("the API reference page covers every operation of the document", () => {
    const page = readFileSync(join(root, "docs/api-reference.md"), "utf8");
    // The page names paths with `{id}`-style placeholders of its own: compare the fixed parts.
    const shape = (path) => path.replace(/\{[^}]+\}/g, "{}");
    const written = new Set([...page.matchAll(/`(GET|POST|PATCH|DELETE) (\/api\/[^`?\s]*)/g)].map((m) => `${m[1]} ${shape(m[2])}`));
    for (const line of page.split("\n").filter((l) => l.startsWith("## `"))) {
      for (const m of line.matchAll(/`(GET|POST|PATCH|DELETE) (\/api\/[^`?\s]*)`/g)) written.add(`${m[1]} ${shape(m[2])}`);
    }
    const missing = operations(doc)
      .map(([method, path]) => `${method.toUpperCase()} ${shape(path)}`)
      .filter((op) => !written.has(op));
    assert.deepEqual(missing, [], "operations the API reference does not describe");
  });
});
