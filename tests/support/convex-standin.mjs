// TEST STAND-IN for a Convex deployment. NOT Convex, and never for production.
//
// A local server that speaks Convex's HTTP API (POST /api/query, /api/mutation, /api/action,
// /api/function and /api/run/<module>/<fn>; see shared reference protocols.md §1) and runs the
// project's own functions in convex/ through convex-test, an in-memory mock of the Convex
// runtime. One convex-test instance per server, so data persists across calls until close().
//
// What it reproduces of a real deployment, as the worker sees it:
// - Auth: `Authorization: Convex <deploy key>` is admin and may call internal functions; a
//   Convex header with another key is 401 {"code":"BadAdminKey"}; no header (or `Bearer ...`) is
//   anonymous, and an internal or missing function is then a `status:"error"` answer
//   "Could not find public function for 'x:y'. Did you forget to run ...".
// - Answers: HTTP 200 with {"status":"success","value":...} or
//   {"status":"error","errorMessage":...,"errorData"?}; infrastructure errors as non-2xx
//   {"code","message"} (BadJsonBody, BadFormat, BadAdminKey, ...). Values are clean JSON written
//   the way Convex's serde_json writes them: every number is a float64, so whole numbers come
//   back as `5.0` and `1760000000000.0`; `undefined` becomes null.
// - Arguments are checked against the functions' validators first, with Convex's
//   `ArgumentValidationError: ...` messages; a function called through the wrong endpoint gets
//   "Trying to execute agents.js:create as Query, but it is defined as Mutation.".
// - Error messages, by `errors` option: "plain" (default) "Uncaught Error: <message>" /
//   "Uncaught ConvexError: <data as JSON>"; "dev" adds Convex's "[Request ID: <id>] Server Error\n"
//   prefix; "prod" redacts to "[Request ID: <id>] Server Error" like a production deployment
//   (errorData of a ConvexError is kept in every mode).
// What it does not: logLines, query caching, GET /api/query, timestamps (/api/query_ts), HTTP
// actions, limits, scheduling across restarts. convex-test runs one function at a time.
//
// It runs in a worker thread: convex-test patches globals (fetch, Date, setTimeout, ...) of the
// thread it runs in, and the caller's thread stays untouched. The convex/*.ts sources are
// transpiled with esbuild into a temporary directory per server. It logs nothing unless
// CONVEX_STANDIN_DEBUG is set.
//
//   const convex = await startConvexStandIn({ deployKey: "test-deploy-key" });
//   // convex.url = "http://127.0.0.1:<port>"; … await convex.close();
//
// Or standalone: `node tests/support/convex-standin.mjs` (deploy key from
// CONVEX_STANDIN_DEPLOY_KEY, default "standin-deploy-key"; port from CONVEX_STANDIN_PORT).
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CONVEX_DIR = path.resolve(HERE, "../../convex");
const WORKER_ROLE = "convex-standin";
const MAX_BODY_BYTES = 20 * 1024 * 1024;
const debug = (...args) => {
  if (process.env.CONVEX_STANDIN_DEBUG) console.error("[convex-standin]", ...args);
};

/**
 * Starts a stand-in deployment on 127.0.0.1 (a free port).
 * @param {{ deployKey: string, errors?: "plain" | "dev" | "prod", port?: number }} options
 * @returns {Promise<{ url: string, close: () => Promise<void> }>}
 */
export async function startConvexStandIn({ deployKey, errors = "plain", port = 0 } = {}) {
  if (typeof deployKey !== "string" || deployKey === "") {
    throw new Error("startConvexStandIn needs a deployKey");
  }
  if (!["plain", "dev", "prod"].includes(errors)) throw new Error(`unknown errors mode ${errors}`);
  const worker = new Worker(new URL(import.meta.url), {
    workerData: { role: WORKER_ROLE, deployKey, errors, port },
  });
  // A forgotten close() must not keep the caller's process (a test runner) alive.
  worker.unref();
  let buildDir = null;
  const exited = new Promise((resolve) => worker.once("exit", resolve));
  exited.then(() => buildDir && rmSync(buildDir, { recursive: true, force: true }));
  const url = await new Promise((resolve, reject) => {
    worker.on("message", (m) => {
      if (m.type === "ready") {
        buildDir = m.buildDir;
        resolve(m.url);
      } else if (m.type === "failed") {
        reject(new Error(`the Convex stand-in failed to start: ${m.error}`));
      }
    });
    worker.once("error", reject);
    exited.then((code) => reject(new Error(`the Convex stand-in exited (${code}) before starting`)));
  });
  let closing = null;
  return {
    url,
    close() {
      closing ??= (async () => {
        worker.postMessage({ type: "close" });
        const timer = setTimeout(() => worker.terminate(), 5000);
        await exited;
        clearTimeout(timer);
      })();
      return closing;
    },
  };
}

// ---- building the functions

/** The files of convex/ that are Convex modules (as `npx convex` picks them) plus schema and _generated JS. */
function moduleFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const full = path.join(d, name);
      const rel = path.relative(dir, full).split(path.sep).join("/");
      if (statSync(full).isDirectory()) {
        if (name !== "node_modules" && !name.startsWith(".")) walk(full);
        continue;
      }
      if (rel.startsWith("_generated/")) {
        if (rel.endsWith(".js")) out.push(rel);
        continue;
      }
      if (!/\.(ts|js|mjs|mts|tsx|jsx)$/.test(name) || name.endsWith(".d.ts")) continue;
      if (name.startsWith(".") || name.startsWith("#") || (name.match(/\./g) || []).length > 1) continue;
      out.push(rel);
    }
  };
  walk(dir);
  return out;
}

/** Transpiles convex/ into `outDir`; returns the entry points' output files by source path. */
async function buildFunctions(convexDir, outDir) {
  const esbuild = await import("esbuild");
  const files = moduleFiles(convexDir);
  if (!files.includes("_generated/api.js")) {
    throw new Error(`${convexDir}/_generated/api.js is missing (see convex/README.md)`);
  }
  // `convex/*` resolves to the very package convex-test uses (one copy of the runtime).
  const convexPackage = {
    name: "convex-package",
    setup(build) {
      build.onResolve({ filter: /^convex(\/.*)?$/ }, (args) => ({
        path: import.meta.resolve(args.path),
        external: true,
      }));
    },
  };
  const result = await esbuild.build({
    entryPoints: files.map((f) => path.join(convexDir, f)),
    outdir: outDir,
    outbase: convexDir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    outExtension: { ".js": ".js" },
    metafile: true,
    logLevel: "silent",
    plugins: [convexPackage],
  });
  await esbuild.stop?.();
  const bySource = new Map();
  for (const [output, info] of Object.entries(result.metafile.outputs)) {
    if (!info.entryPoint) continue;
    const source = path.relative(convexDir, path.resolve(info.entryPoint)).split(path.sep).join("/");
    bySource.set(source, path.resolve(output));
  }
  return bySource;
}

/** A convex-test deployment running the built functions; with a loader for the modules. */
async function loadDeployment(convexDir, outDir) {
  const built = await buildFunctions(convexDir, outDir);
  const modules = {};
  for (const [source, output] of built) {
    if (source === "schema.ts" || source === "schema.js") continue;
    const key = `./${source.replace(/\.[^./]+$/, "")}.js`;
    const href = pathToFileURL(output).href;
    modules[key] = () => import(href);
  }
  const schemaFile = built.get("schema.ts") ?? built.get("schema.js");
  const schema = schemaFile ? (await import(pathToFileURL(schemaFile).href)).default : undefined;
  const { convexTest } = await import("convex-test");
  const t = convexTest({ schema, modules });
  return { t, modules };
}

// ---- clean JSON as Convex writes it

/** A float64 as serde_json writes it (ryu): always a `.0` or exponent, `1e-7`, `1.5e300`. */
function formatFloat(n) {
  if (Number.isNaN(n)) return '"NaN"';
  if (n === Infinity) return '"Infinity"';
  if (n === -Infinity) return '"-Infinity"';
  if (n === 0) return Object.is(n, -0) ? "-0.0" : "0.0";
  const sign = n < 0 ? "-" : "";
  const [mantissa, exponent] = Math.abs(n).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const length = digits.length;
  const kk = Number(exponent) + 1; // 10^(kk-1) <= |n| < 10^kk
  const k = kk - length;
  let text;
  if (k >= 0 && kk <= 16) text = digits + "0".repeat(k) + ".0";
  else if (kk > 0 && kk <= 16) text = `${digits.slice(0, kk)}.${digits.slice(kk)}`;
  else if (kk > -5 && kk <= 0) text = `0.${"0".repeat(-kk)}${digits}`;
  else if (length === 1) text = `${digits}e${kk - 1}`;
  else text = `${digits[0]}.${digits.slice(1)}e${kk - 1}`;
  return sign + text;
}

/** A Convex value as clean-JSON text: int64 as a decimal string, bytes as base64. */
function cleanJson(value) {
  if (value === undefined || value === null) return "null";
  switch (typeof value) {
    case "number":
      return formatFloat(value);
    case "bigint":
      return JSON.stringify(value.toString());
    case "boolean":
      return value ? "true" : "false";
    case "string":
      return JSON.stringify(value);
  }
  if (value instanceof ArrayBuffer) return JSON.stringify(Buffer.from(value).toString("base64"));
  if (Array.isArray(value)) return `[${value.map(cleanJson).join(",")}]`;
  const fields = Object.entries(value).filter(([, v]) => v !== undefined);
  return `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${cleanJson(v)}`).join(",")}}`;
}

// ---- argument validation, with Convex's messages

function displayValue(value) {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  switch (typeof value) {
    case "number":
      return formatFloat(value).replace(/^"(.*)"$/, "$1");
    case "bigint":
      return `${value}n`;
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return String(value);
  }
  if (value instanceof ArrayBuffer) return `Bytes(${value.byteLength})`;
  if (Array.isArray(value)) return `[${value.map(displayValue).join(", ")}]`;
  return `{${Object.entries(value)
    .map(([k, v]) => `${k}: ${displayValue(v)}`)
    .join(", ")}}`;
}

function displayValidator(v) {
  switch (v.type) {
    case "number":
      return "v.float64()";
    case "bigint":
      return "v.int64()";
    case "literal":
      return `v.literal(${JSON.stringify(v.value)})`;
    case "id":
      return `v.id(${JSON.stringify(v.tableName)})`;
    case "array":
      return `v.array(${displayValidator(v.value)})`;
    case "union":
      return `v.union(${v.value.map(displayValidator).join(", ")})`;
    case "record":
      return `v.record(${displayValidator(v.keys)}, ${displayValidator(v.values.fieldType)})`;
    case "object":
      return `v.object({${Object.entries(v.value)
        .map(([k, f]) => `${k}: ${f.optional ? `v.optional(${displayValidator(f.fieldType)})` : displayValidator(f.fieldType)}`)
        .join(", ")}})`;
    default:
      return `v.${v.type}()`;
  }
}

function isPlainObject(value) {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  if (value instanceof ArrayBuffer) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === null || proto === Object.prototype;
}

/** The first mismatch of `value` against a validator (as exported JSON), or null. */
function checkValue(v, value, at, convexToJson) {
  const pathLine = at ? `Path: ${at}\n` : "";
  const mismatch = () =>
    `Value does not match validator.\n${pathLine}Value: ${displayValue(value)}\nValidator: ${displayValidator(v)}`;
  switch (v.type) {
    case "any":
      return null;
    case "null":
      return value === null ? null : mismatch();
    case "number":
      return typeof value === "number" ? null : mismatch();
    case "bigint":
      return typeof value === "bigint" ? null : mismatch();
    case "boolean":
      return typeof value === "boolean" ? null : mismatch();
    case "string":
    case "id":
      return typeof value === "string" ? null : mismatch();
    case "bytes":
      return value instanceof ArrayBuffer ? null : mismatch();
    case "literal": {
      const ok =
        value !== undefined && JSON.stringify(convexToJson(value)) === JSON.stringify(v.value);
      return ok ? null : mismatch();
    }
    case "array": {
      if (!Array.isArray(value)) return mismatch();
      for (const [i, item] of value.entries()) {
        const error = checkValue(v.value, item, `${at}[${i}]`, convexToJson);
        if (error) return error;
      }
      return null;
    }
    case "union":
      return v.value.some((member) => checkValue(member, value, at, convexToJson) === null)
        ? null
        : mismatch();
    case "record": {
      if (!isPlainObject(value)) return mismatch();
      for (const [k, item] of Object.entries(value)) {
        if (checkValue(v.keys, k, at, convexToJson)) return mismatch();
        const error = checkValue(v.values.fieldType, item, `${at}.${k}`, convexToJson);
        if (error) return error;
      }
      return null;
    }
    case "object": {
      if (!isPlainObject(value)) return mismatch();
      const context = `\n\nObject: ${displayValue(value)}\nValidator: ${displayValidator(v)}`;
      for (const k of Object.keys(value)) {
        if (!(k in v.value)) {
          return `${pathLine}Object contains extra field \`${k}\` that is not in the validator.${context}`;
        }
      }
      for (const [k, field] of Object.entries(v.value)) {
        if (value[k] === undefined) {
          if (field.optional) continue;
          return (
            `${pathLine}Object is missing the required field \`${k}\`. Consider wrapping the field ` +
            `validator in \`v.optional(...)\` if this is expected.${context}`
          );
        }
        const error = checkValue(field.fieldType, value[k], `${at}.${k}`, convexToJson);
        if (error) return error;
      }
      return null;
    }
    default:
      return null;
  }
}

// ---- the server

const KINDS = { query: "Query", mutation: "Mutation", action: "Action" };

class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The part of a `prod:name|secret` style key after its type prefix. */
function withoutTypePrefix(key) {
  const pipe = key.indexOf("|");
  if (pipe === -1) return key;
  const colon = key.lastIndexOf(":", pipe);
  return colon === -1 ? key : key.slice(colon + 1);
}

/** Whether the request is made with the admin key; throws Convex's errors for bad headers. */
function isAdmin(req, url, deployKey) {
  let header = req.headers.authorization;
  if (header === undefined) {
    const adminKey = url.searchParams.get("adminKey");
    if (adminKey === null) return false;
    header = `Convex ${adminKey}`;
  }
  if (header.length < 7) throw new HttpError(400, "InvalidHeaderFailure", "Invalid authentication header");
  if (header.slice(0, 7).toLowerCase() !== "convex ") {
    if (header.slice(0, 7).toLowerCase() === "bearer ") return false; // a user's token: not admin
    throw new HttpError(400, "InvalidAdminKey", "Invalid admin key");
  }
  let key = withoutTypePrefix(header.slice(7));
  const colon = key.indexOf(":");
  if (colon !== -1) {
    // An admin acting as a user: `<key>:<base64 of the identity's JSON>`.
    try {
      const identity = JSON.parse(Buffer.from(key.slice(colon + 1), "base64").toString("utf8"));
      if (!isPlainObject(identity)) throw new Error("not an object");
    } catch {
      throw new HttpError(400, "HeaderParseFailure", "Malformed Authorization header.");
    }
    key = key.slice(0, colon);
  }
  if (key !== withoutTypePrefix(deployKey)) {
    throw new HttpError(401, "BadAdminKey", "The provided admin key was invalid for this instance");
  }
  return true;
}

async function readBody(req) {
  const type = String(req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, "PayloadTooLarge", "The request body is too large");
    chunks.push(chunk);
  }
  if (type !== "application/json" && !/^application\/[^/]+\+json$/.test(type)) {
    throw new HttpError(400, "BadJsonBody", "Expected request with `Content-Type: application/json`");
  }
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, "BadJsonBody", `Failed to parse the request body as JSON: ${e.message}`);
  }
}

/** Checks the body's fields the way serde would for Convex's request structs. */
function bodyFields(body, withPath) {
  const bad = (detail) =>
    new HttpError(400, "BadJsonBody", `Failed to deserialize the JSON body into the target type: ${detail}`);
  if (!isPlainObject(body)) throw bad("invalid type: expected a JSON object");
  if (withPath && body.path === undefined) throw bad("missing field `path`");
  if (withPath && typeof body.path !== "string") throw bad("path: invalid type: expected a string");
  if (body.args === undefined) throw bad("missing field `args`");
  if (body.format !== undefined && body.format !== null && typeof body.format !== "string") {
    throw bad("format: invalid type: expected a string");
  }
  if (body.format !== undefined && body.format !== null && body.format !== "json") {
    throw new HttpError(400, "BadFormat", `format param must be one of [\`json\`]. Got ${body.format}`);
  }
  return { path: body.path, args: body.args };
}

function parsePath(udfPath) {
  const colon = udfPath.lastIndexOf(":");
  const rawModule = colon === -1 ? udfPath : udfPath.slice(0, colon);
  const name = colon === -1 ? "default" : udfPath.slice(colon + 1);
  const module = rawModule.replace(/\.js$/, "");
  const valid =
    /^[A-Za-z0-9_\-]+(\/[A-Za-z0-9_\-]+)*$/.test(module) && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name);
  return {
    valid,
    module,
    name,
    /** As Convex shows a missing function: `agents:get` (no `.js`, no `:default`). */
    stripped: name === "default" ? module : `${module}:${name}`,
    /** As Convex shows a canonical path: `agents.js:get`. */
    canonical: `${module}.js:${name}`,
  };
}

async function serve({ deployKey, errors, port }) {
  const buildDir = mkdtempSync(path.join(tmpdir(), "convex-standin-"));
  const { t, modules } = await loadDeployment(CONVEX_DIR, buildDir);
  const { makeFunctionReference } = await import("convex/server");
  const { ConvexError, convexToJson, jsonToConvex } = await import("convex/values");

  const requestId = () => randomBytes(8).toString("hex");
  const failure = (message, data) => {
    const id = requestId();
    const errorMessage =
      errors === "prod"
        ? `[Request ID: ${id}] Server Error`
        : errors === "dev"
          ? `[Request ID: ${id}] Server Error\n${message}`
          : message;
    return data === undefined
      ? `{"status":"error","errorMessage":${JSON.stringify(errorMessage)}}`
      : `{"status":"error","errorMessage":${JSON.stringify(errorMessage)},"errorData":${cleanJson(data)}}`;
  };

  /** Runs a function; returns the JSON text of Convex's `status` answer. */
  async function run(kind, udfPath, rawArgs, admin) {
    const p = parsePath(udfPath);
    const notFound = () =>
      failure(
        `Could not find public function for '${p.stripped}'. Did you forget to run \`npx convex dev\` or \`npx convex deploy\`?`,
      );
    const loader = p.valid ? modules[`./${p.module}.js`] : undefined;
    const fn = loader ? (await loader())[p.name] : undefined;
    const registered = fn && (fn.isQuery || fn.isMutation || fn.isAction);
    if (!registered || (!admin && !fn.isPublic)) return notFound();
    const actual = fn.isQuery ? "query" : fn.isMutation ? "mutation" : "action";
    if (kind !== "any" && kind !== actual) {
      return failure(`Trying to execute ${p.canonical} as ${KINDS[kind]}, but it is defined as ${KINDS[actual]}.`);
    }
    let args = Array.isArray(rawArgs) && rawArgs.length === 1 ? rawArgs[0] : rawArgs;
    try {
      args = jsonToConvex(args);
    } catch (e) {
      return failure(`ArgumentValidationError: ${e.message}`);
    }
    const problem = checkValue(JSON.parse(fn.exportArgs()), args, "", convexToJson);
    if (problem) return failure(`ArgumentValidationError: ${problem}`);
    const reference = makeFunctionReference(`${p.module}:${p.name}`);
    try {
      const value = await t[actual](reference, args);
      return `{"status":"success","value":${cleanJson(value)}}`;
    } catch (e) {
      if (e instanceof ConvexError || (e && typeof e === "object" && Symbol.for("ConvexError") in e)) {
        return failure(`Uncaught ConvexError: ${e.message}`, e.data);
      }
      if (e instanceof Error) return failure(`Uncaught ${e.name}: ${e.message}`);
      return failure(`Uncaught ${String(e)}`);
    }
  }

  async function handle(req, res) {
    const url = new URL(req.url, "http://127.0.0.1");
    const send = (status, text) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(text);
    };
    const route = /^\/api\/(query|mutation|action|function)$/.exec(url.pathname);
    const runRoute = /^\/api\/run\/(.*)$/.exec(url.pathname);
    if (!route && !runRoute) {
      return send(404, JSON.stringify({ code: "NotFound", message: `No route for ${req.method} ${url.pathname}` }));
    }
    if (req.method !== "POST") {
      return send(405, JSON.stringify({ code: "MethodNotAllowed", message: `Use POST for ${url.pathname}` }));
    }
    try {
      // Convex's order: the auth header's form, the JSON body, then the key itself.
      let adminError = null;
      let admin = false;
      try {
        admin = isAdmin(req, url, deployKey);
      } catch (e) {
        if (e instanceof HttpError && e.status === 401) adminError = e;
        else throw e;
      }
      const body = await readBody(req);
      const { path: udfPath, args } = bodyFields(body, Boolean(route));
      if (adminError) throw adminError;
      let target = udfPath;
      if (runRoute) {
        const parts = runRoute[1].split("/").map(decodeURIComponent);
        if (parts.length < 2 || parts.some((x) => x === "")) {
          throw new HttpError(
            400,
            "MissingIdentifier",
            "Path or function name not provided in path, e.g. /api/run/messages/list",
          );
        }
        const name = parts.pop();
        target = `${parts.join("/")}:${name}`;
      }
      const kind = route && route[1] !== "function" ? route[1] : "any";
      const answer = await run(kind, target, args, admin);
      debug(req.method, url.pathname, target, answer.slice(0, 200));
      send(200, answer);
    } catch (e) {
      if (e instanceof HttpError) {
        debug(req.method, url.pathname, e.status, e.code, e.message);
        return send(e.status, JSON.stringify({ code: e.code, message: e.message }));
      }
      debug(req.method, url.pathname, "internal error", e);
      send(500, JSON.stringify({ code: "InternalServerError", message: String(e?.message ?? e) }));
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      debug("unhandled", e);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  debug("listening on", url, "with functions from", CONVEX_DIR);
  const close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(() => resolve()));
    rmSync(buildDir, { recursive: true, force: true });
  };
  return { url, buildDir, close };
}

// ---- thread and command-line entry points

if (!isMainThread && workerData?.role === WORKER_ROLE) {
  serve(workerData).then(
    (running) => {
      parentPort.on("message", async (m) => {
        if (m?.type !== "close") return;
        await running.close();
        parentPort.close();
      });
      parentPort.postMessage({ type: "ready", url: running.url, buildDir: running.buildDir });
    },
    (e) => parentPort.postMessage({ type: "failed", error: e?.stack ?? String(e) }),
  );
} else if (isMainThread && process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const deployKey = process.env.CONVEX_STANDIN_DEPLOY_KEY || "standin-deploy-key";
  const errors = process.env.CONVEX_STANDIN_ERRORS || "plain";
  serve({ deployKey, errors, port: Number(process.env.CONVEX_STANDIN_PORT || 0) }).then(
    (running) => {
      console.log(`Convex stand-in (test only) at ${running.url}; deploy key ${JSON.stringify(deployKey)}`);
      const stop = () => running.close().then(() => process.exit(0));
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}

/** How the stand-in writes values, for its own tests. */
export const wire = { formatFloat, cleanJson };
