// The Convex stand-in (tests/support/convex-standin.mjs) against Convex's HTTP API contract, over
// real HTTP: admin (deploy key) calls of the project's internal functions, anonymous callers
// seeing nothing, bad keys, wrong endpoints, formats, argument validation, ConvexError data,
// /api/run, and numbers written as Convex writes them. Runs in seconds; no worker needed.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { startConvexStandIn, wire } from "../support/convex-standin.mjs";

const DEPLOY_KEY = `prod:standin-test|${randomUUID()}`;
const T0 = 1_760_000_000_000;

let convex;

async function post(path, body, { auth = `Convex ${DEPLOY_KEY}`, contentType = "application/json" } = {}) {
  const headers = {};
  if (auth) headers.authorization = auth;
  if (contentType) headers["content-type"] = contentType;
  const res = await fetch(`${convex.url}${path}`, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type"), text, json: JSON.parse(text) };
}

const call = (kind, path, args, options) => post(`/api/${kind}`, { path, args, format: "json" }, options);

const notFound = (path) => ({
  status: "error",
  errorMessage: `Could not find public function for '${path}'. Did you forget to run \`npx convex dev\` or \`npx convex deploy\`?`,
});

const tenant = (id) => ({ id, name: `Tenant ${id}`, status: "active", monthlySpendCap: null, createdAt: T0 });
const key = (id, tenantId) => ({
  id,
  tenantId,
  agentId: null,
  kind: "secret",
  name: "First key",
  lookup: `sk_${id}`,
  hash: "0".repeat(64),
  masked: "sk_…",
  createdAt: T0,
  revokedAt: null,
  // Key scopes (API keys use them): stored and read back with every key.
  scopeAgents: null,
  browser: false,
  perMinute: null,
});

before(async () => {
  convex = await startConvexStandIn({ deployKey: DEPLOY_KEY });
  assert.match(convex.url, /^http:\/\/127\.0\.0\.1:\d+$/);
});

after(async () => {
  await convex?.close();
});

describe("admin calls with the deploy key", () => {
  test("create a tenant, then read it back (data persists across calls)", async () => {
    const created = await call("mutation", "tenants:create", {
      tenant: { ...tenant("t1"), monthlySpendCap: 12.5 },
      identitySecret: "idsec",
      signingSecret: "whsec",
      key: key("k1", "t1"),
    });
    assert.equal(created.status, 200);
    assert.match(created.type, /^application\/json/);
    assert.deepEqual(created.json, { status: "success", value: null });

    const read = await call("query", "tenants:get", { tenantId: "t1" });
    assert.deepEqual(read.json, {
      status: "success",
      value: { id: "t1", name: "Tenant t1", status: "active", monthlySpendCap: 12.5, createdAt: T0, retentionDays: null },
    });
    // Convex writes every number as a float64: whole numbers carry `.0`.
    assert.match(read.text, /"createdAt":1760000000000\.0\b/);

    const missing = await call("query", "tenants:get", { tenantId: "nobody" });
    assert.deepEqual(missing.json, { status: "success", value: null });
    const keys = await call("query", "keys:byLookup", { lookup: "sk_k1" });
    assert.deepEqual(keys.json.value, [{ ...key("k1", "t1"), tenantStatus: "active" }]);
  });

  test("the key without its type prefix, and in any case of `Convex`, is the same admin", async () => {
    const bare = DEPLOY_KEY.slice(DEPLOY_KEY.indexOf(":") + 1);
    for (const auth of [`Convex ${bare}`, `convex ${DEPLOY_KEY}`]) {
      const r = await call("query", "tenants:list", { limit: 10 }, { auth });
      assert.equal(r.json.status, "success", auth);
    }
  });

  test("/api/run/<module>/<fn> runs any kind of function, clean JSON by default", async () => {
    const spend = await post("/api/run/usage/spend", { args: { tenantId: "t1", agentId: null, sinceDay: "2026-01-01" } });
    assert.equal(spend.status, 200);
    assert.equal(spend.text, '{"status":"success","value":{"agent":0.0,"tenant":0.0}}');
    const agent = { id: "a1", tenantId: "t1", config: '{"name":"A"}', enabled: true, createdAt: T0, updatedAt: T0 };
    const created = await post("/api/run/agents/create", { args: { agent }, format: "json" });
    assert.deepEqual(created.json, { status: "success", value: true });
    const again = await post("/api/run/agents/create", { args: { agent } });
    assert.deepEqual(again.json, { status: "success", value: false });
    const got = await post("/api/run/agents/get", { args: { agentId: "a1" } });
    assert.equal(got.json.value.identitySecret, "idsec");
    assert.deepEqual(got.json.value.publishableKeys, []);

    const noFunction = await post("/api/run/agents", { args: {} });
    assert.equal(noFunction.status, 400);
    assert.equal(noFunction.json.code, "MissingIdentifier");
    const anonymous = await post("/api/run/agents/get", { args: { agentId: "a1" } }, { auth: null });
    assert.deepEqual(anonymous.json, notFound("agents:get"));
  });

  test("/api/function runs a function of any kind by path", async () => {
    const r = await post("/api/function", { path: "tenants:list", args: { limit: 10 }, format: "json" });
    assert.equal(r.json.status, "success");
    assert.deepEqual(r.json.value.map((t) => t.id), ["t1"]);
  });
});

describe("who may call", () => {
  test("no Authorization header: internal functions look missing", async () => {
    const r = await call("query", "agents:get", { agentId: "a1" }, { auth: null });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, notFound("agents:get"));
  });

  test("a Bearer token is a user, not an admin: internal functions look missing", async () => {
    const r = await call("mutation", "tenants:update", { tenant: { id: "t1", name: "x", status: "active", monthlySpendCap: null } }, {
      auth: "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x",
    });
    assert.deepEqual(r.json, notFound("tenants:update"));
    const read = await call("query", "tenants:get", { tenantId: "t1" });
    assert.equal(read.json.value.name, "Tenant t1", "nothing was written");
  });

  test("a Convex header with another key is 401 BadAdminKey, before anything runs", async () => {
    for (const auth of ["Convex wrong-key", `Convex ${DEPLOY_KEY}x`, "Convex prod:standin-test|other"]) {
      const r = await call("mutation", "tenants:create", {
        tenant: tenant("t-bad"),
        identitySecret: "i",
        signingSecret: "s",
        key: key("k-bad", "t-bad"),
      }, { auth });
      assert.equal(r.status, 401, auth);
      assert.deepEqual(r.json, { code: "BadAdminKey", message: "The provided admin key was invalid for this instance" });
    }
    const read = await call("query", "tenants:get", { tenantId: "t-bad" });
    assert.equal(read.json.value, null);
  });

  test("malformed Authorization headers are 400", async () => {
    assert.equal((await call("query", "tenants:list", { limit: 10 }, { auth: "Basic dXNlcg==" })).json.code, "InvalidAdminKey");
    assert.equal((await call("query", "tenants:list", { limit: 10 }, { auth: "x" })).json.code, "InvalidHeaderFailure");
    const acting = await call("query", "tenants:list", { limit: 10 }, { auth: `Convex ${DEPLOY_KEY}:not-base64-json` });
    assert.deepEqual([acting.status, acting.json.code], [400, "HeaderParseFailure"]);
    const identity = Buffer.from(JSON.stringify({ subject: "u1", issuer: "https://x" })).toString("base64");
    const asUser = await call("query", "tenants:list", { limit: 10 }, { auth: `Convex ${DEPLOY_KEY}:${identity}` });
    assert.equal(asUser.json.status, "success", "an admin acting as a user is still an admin");
  });
});

describe("calls that go wrong", () => {
  test("a function through the wrong endpoint names the mismatch", async () => {
    const asQuery = await call("query", "tenants:update", { tenant: { id: "t1", name: "x", status: "active", monthlySpendCap: null } });
    assert.equal(asQuery.status, 200);
    assert.deepEqual(asQuery.json, {
      status: "error",
      errorMessage: "Trying to execute tenants.js:update as Query, but it is defined as Mutation.",
    });
    const asMutation = await call("mutation", "tenants:get", { tenantId: "t1" });
    assert.equal(asMutation.json.errorMessage, "Trying to execute tenants.js:get as Mutation, but it is defined as Query.");
    const asAction = await call("action", "tenants:list", { limit: 10 });
    assert.equal(asAction.json.errorMessage, "Trying to execute tenants.js:list as Action, but it is defined as Query.");
    assert.equal((await call("query", "tenants:get", { tenantId: "t1" })).json.value.name, "Tenant t1");
  });

  test("unknown functions and modules, and non-functions, are missing even for the admin", async () => {
    assert.deepEqual((await call("query", "tenants:nope", {})).json, notFound("tenants:nope"));
    assert.deepEqual((await call("query", "nope:get", {})).json, notFound("nope:get"));
    assert.deepEqual((await call("query", "model:tenantDoc", {})).json, notFound("model:tenantDoc"));
    assert.deepEqual((await call("query", "schema", {})).json, notFound("schema"));
  });

  test("only format json (or none) is accepted", async () => {
    const bad = await post("/api/query", { path: "tenants:list", args: { limit: 10 }, format: "convex_encoded_json" });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json, { code: "BadFormat", message: "format param must be one of [`json`]. Got convex_encoded_json" });
    const none = await post("/api/query", { path: "tenants:list", args: { limit: 10 } });
    assert.equal(none.json.status, "success");
  });

  test("malformed bodies are 400 BadJsonBody", async () => {
    const broken = await post("/api/query", "{not json");
    assert.equal(broken.status, 400);
    assert.equal(broken.json.code, "BadJsonBody");
    assert.match(broken.json.message, /^Failed to parse the request body as JSON/);
    const noArgs = await post("/api/query", { path: "tenants:list" });
    assert.deepEqual([noArgs.status, noArgs.json.code], [400, "BadJsonBody"]);
    assert.match(noArgs.json.message, /missing field `args`/);
    const noType = await post("/api/query", { path: "tenants:list", args: { limit: 10 } }, { contentType: null });
    assert.deepEqual([noType.status, noType.json.code], [400, "BadJsonBody"]);
  });

  test("argument validation failures are status errors starting with ArgumentValidationError", async () => {
    const wrongType = await call("query", "tenants:get", { tenantId: 42 });
    assert.equal(wrongType.status, 200);
    assert.equal(wrongType.json.status, "error");
    assert.equal(
      wrongType.json.errorMessage,
      "ArgumentValidationError: Value does not match validator.\nPath: .tenantId\nValue: 42.0\nValidator: v.string()",
    );
    const missing = await call("query", "tenants:get", {});
    assert.match(missing.json.errorMessage, /^ArgumentValidationError: Object is missing the required field `tenantId`/);
    const extra = await call("query", "tenants:get", { tenantId: "t1", more: true });
    assert.match(extra.json.errorMessage, /^ArgumentValidationError: Object contains extra field `more`/);
    const nested = await call("mutation", "tenants:update", { tenant: { id: "t1", name: "x", status: "gone", monthlySpendCap: null } });
    assert.match(nested.json.errorMessage, /^ArgumentValidationError: Value does not match validator\.\nPath: \.tenant\.status\n/);
    assert.equal(nested.json.errorData, undefined);
    assert.equal((await call("query", "tenants:get", { tenantId: "t1" })).json.value.status, "active");
  });

  test("a ConvexError carries its data as errorData; other errors are 'Uncaught Error: …'", async () => {
    const r = await call("mutation", "tenants:update", { tenant: { id: "ghost", name: "x", status: "active", monthlySpendCap: null } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {
      status: "error",
      errorMessage: 'Uncaught ConvexError: {"code":"NotFound","message":"Tenant ghost does not exist"}',
      errorData: { code: "NotFound", message: "Tenant ghost does not exist" },
    });
    const day = await call("query", "usage:spend", { tenantId: "t1", agentId: null, sinceDay: "yesterday" });
    assert.equal(day.json.errorData.code, "Invalid");
    // A plain Error (here convex-test's, for a cursor that is not one) has no errorData.
    const plain = await call("query", "transfer:exportTable", { table: "tenants", cursor: "garbage", limit: 5 });
    assert.equal(plain.json.status, "error");
    assert.match(plain.json.errorMessage, /^Uncaught Error: /);
    assert.equal("errorData" in plain.json, false);
  });
});

describe("error message modes", () => {
  test("dev adds Convex's request id line; prod redacts to it but keeps errorData", async () => {
    const dev = await startConvexStandIn({ deployKey: "dev-key", errors: "dev" });
    const prod = await startConvexStandIn({ deployKey: "prod-key", errors: "prod" });
    try {
      const args = { path: "tenants:setSecret", args: { tenantId: "none", which: "identity", value: "v" }, format: "json" };
      const ask = async (standin, key) =>
        (await fetch(`${standin.url}/api/mutation`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Convex ${key}` },
          body: JSON.stringify(args),
        })).json();
      const d = await ask(dev, "dev-key");
      assert.match(d.errorMessage, /^\[Request ID: [0-9a-f]{16}\] Server Error\nUncaught ConvexError: \{"code":"NotFound"/);
      const p = await ask(prod, "prod-key");
      assert.match(p.errorMessage, /^\[Request ID: [0-9a-f]{16}\] Server Error$/);
      assert.equal(p.errorData.code, "NotFound");
      // Each server has its own data.
      const listed = await ask(dev, "prod-key").catch(() => null);
      assert.equal(listed?.code, "BadAdminKey");
    } finally {
      await Promise.all([dev.close(), prod.close()]);
    }
  });
});

test("numbers are written as Convex's serde_json writes float64", () => {
  const cases = [
    [0, "0.0"],
    [1, "1.0"],
    [-3, "-3.0"],
    [0.5, "0.5"],
    [7.25, "7.25"],
    [1760000000000, "1760000000000.0"],
    [1e16, "1e16"],
    [1.5e300, "1.5e300"],
    [0.0001, "0.0001"],
    [1e-7, "1e-7"],
    [123456.789, "123456.789"],
  ];
  for (const [n, text] of cases) assert.equal(wire.formatFloat(n), text, String(n));
  assert.equal(wire.cleanJson({ b: 2n, a: [1, null, "x"], u: undefined }), '{"b":"2","a":[1.0,null,"x"]}');
});
