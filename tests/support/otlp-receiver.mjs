// An OTLP/HTTP receiver on loopback, standing in for Langfuse's OpenTelemetry endpoint and any
// OTLP collector. Every export is decoded with the official OpenTelemetry protobuf definitions
// (`@opentelemetry/otlp-transformer`'s generated `ExportTraceServiceRequest`): the JSON body
// is read into the message (ids from the hex OTLP/JSON uses), encoded to protobuf bytes,
// decoded again and turned back into OTLP/JSON, and must come back unchanged, so a field the
// schema does not know, a wrong type or an attribute map instead of a list fails the test.
import { createServer } from "node:http";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const root = require("@opentelemetry/otlp-transformer/build/src/generated/root.js");
const ExportTraceServiceRequest = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

const ID_FIELDS = { traceId: 32, spanId: 16, parentSpanId: 16 };

/** Hex ids → bytes, checking their length and case (OTLP/JSON: lowercase hex). */
function idsToBytes(value, path = "") {
  if (Array.isArray(value)) return value.map((v, i) => idsToBytes(v, `${path}[${i}]`));
  if (value === null || typeof value !== "object") return value;
  const out = {};
  for (const [key, v] of Object.entries(value)) {
    if (key in ID_FIELDS) {
      if (typeof v !== "string" || !new RegExp(`^[0-9a-f]{${ID_FIELDS[key]}}$`).test(v)) throw new Error(`${path}.${key} is not ${ID_FIELDS[key]} lowercase hex: ${v}`);
      if (/^0+$/.test(v)) throw new Error(`${path}.${key} is all zeros`);
      out[key] = Buffer.from(v, "hex");
    } else out[key] = idsToBytes(v, `${path}.${key}`);
  }
  return out;
}

/** Bytes (as base64 from toObject) → hex ids again. */
function idsToHex(value) {
  if (Array.isArray(value)) return value.map(idsToHex);
  if (value === null || typeof value !== "object") return value;
  const out = {};
  for (const [key, v] of Object.entries(value)) out[key] = key in ID_FIELDS ? Buffer.from(v, "base64").toString("hex") : idsToHex(v);
  return out;
}

/** Decodes one OTLP/HTTP JSON export body; throws when it is not a valid ExportTraceServiceRequest. */
export function decodeExport(text) {
  const json = JSON.parse(text);
  const message = ExportTraceServiceRequest.fromObject(idsToBytes(json));
  const bytes = ExportTraceServiceRequest.encode(message).finish();
  const decoded = ExportTraceServiceRequest.decode(bytes);
  const back = idsToHex(ExportTraceServiceRequest.toObject(decoded, { longs: String, enums: Number, bytes: String }));
  const canonical = (v) => JSON.stringify(v, (_, x) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x));
  if (canonical(back) !== canonical(json)) {
    throw new Error(`the export does not survive a protobuf round trip:\n sent ${canonical(json)}\n back ${canonical(back)}`);
  }
  return { request: back, protobufBytes: bytes.length };
}

/** Attributes as a plain object of JavaScript values. */
export function attrs(list = []) {
  const out = {};
  for (const { key, value } of list) {
    out[key] = value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : undefined) ?? value.doubleValue ?? value.boolValue;
  }
  return out;
}

/** Every span of an export, flattened, with decoded attributes and times as BigInt nanos. */
export function spansOf(request) {
  return request.resourceSpans.flatMap((rs) =>
    rs.scopeSpans.flatMap((ss) =>
      ss.spans.map((s) => ({ ...s, attributes: attrs(s.attributes), start: BigInt(s.startTimeUnixNano), end: BigInt(s.endTimeUnixNano), events: (s.events ?? []).map((e) => ({ ...e, attributes: attrs(e.attributes) })) })),
    ),
  );
}

/**
 * Starts the receiver. `mode` (changeable at any time) says how it answers: "ok" (200),
 * a status number, "slow" (answers after `slowMs`), "hang" (never answers) or "reset" (drops
 * the connection).
 */
export async function startOtlpReceiver() {
  const exports = [];
  /** Langfuse public API score calls (`POST /api/public/scores`, `DELETE …/scores/{id}`). */
  const scores = [];
  const state = { mode: "ok", slowMs: 3000 };
  const sockets = new Set();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const raw = Buffer.concat(chunks);
      if (/\/api\/public\/scores(\/|$)/.test(req.url)) {
        // Langfuse's score API: POST {id?, traceId, name, value, dataType?, comment?}.
        const score = { method: req.method, path: req.url, headers: req.headers, raw };
        try {
          if (req.method === "POST") {
            score.body = JSON.parse(raw.toString("utf8"));
            const { traceId, name, value, dataType } = score.body;
            if (typeof traceId !== "string" || typeof name !== "string" || typeof value !== "number") throw new Error("traceId, name and value are required");
            if (dataType === "BOOLEAN" && value !== 0 && value !== 1) throw new Error("a BOOLEAN score is 0 or 1");
          }
        } catch (error) {
          score.error = error.message;
        }
        scores.push(score);
        res.writeHead(score.error ? 400 : 200, { "content-type": "application/json" });
        return res.end(JSON.stringify(score.error ? { message: score.error } : { id: score.body?.id ?? req.url.split("/").pop() }));
      }
      const entry = { path: req.url, headers: req.headers, raw, at: Date.now(), mode: state.mode };
      try {
        Object.assign(entry, decodeExport(raw.toString("utf8")));
      } catch (error) {
        entry.error = error.message;
      }
      exports.push(entry);
      const mode = state.mode;
      if (mode === "hang") return;
      if (mode === "reset") return req.socket.destroy();
      if (mode === "slow") await new Promise((r) => setTimeout(r, state.slowMs));
      const status = typeof mode === "number" ? mode : entry.error ? 400 : 200;
      res.writeHead(status, { "content-type": "application/json" });
      res.end(status === 200 ? "{}" : JSON.stringify({ message: entry.error ?? "refused" }));
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    exports,
    scores,
    state,
    /** Exports that carry trace `traceId`. */
    forTrace: (traceId) => exports.filter((e) => e.request && spansOf(e.request).some((s) => s.traceId === traceId)),
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(r);
      }),
  };
}
