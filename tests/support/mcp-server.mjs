// An MCP server for tests, built with the official SDK's server side (`McpServer` + the
// Streamable HTTP transport) on a free loopback port: the tools `lookup`, `slow`, `crash` (drops
// every connection mid-call), `fails` (an `isError` result) and `hidden`, and
// with `huge: true` also `huge` (a 10 MB answer). Each request is logged
// with its headers, body and how long the server took to answer it (`ms`).
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The tools every test server offers. */
function toolsServer(log, { huge = false } = {}) {
  const server = new McpServer({ name: "test-docs", version: "1.0.0" });
  server.registerTool(
    "lookup",
    { description: "Looks a topic up in the docs", inputSchema: { topic: z.string().optional() } },
    async ({ topic }) => {
      log.calls.push({ tool: "lookup", topic });
      return { content: [{ type: "text", text: `Docs say: returns take 30 days (${topic ?? "all"})` }] };
    },
  );
  server.registerTool("slow", { description: "Takes its time", inputSchema: {} }, async () => {
    await sleep(2000);
    return { content: [{ type: "text", text: "finally" }] };
  });
  server.registerTool("crash", { description: "Dies mid-call", inputSchema: {} }, async () => {
    log.crash?.();
    await sleep(5000);
    return { content: [{ type: "text", text: "never" }] };
  });
  server.registerTool("fails", { description: "Reports a failure", inputSchema: {} }, async () => ({
    content: [{ type: "text", text: "the docs index is rebuilding" }],
    isError: true,
  }));
  if (huge) {
    server.registerTool("huge", { description: "Answers ten megabytes", inputSchema: {} }, async () => ({
      content: [{ type: "text", text: "y".repeat(10 * 1024 * 1024) }],
    }));
  }
  server.registerTool("hidden", { description: "Not for this agent", inputSchema: {} }, async () => ({
    content: [{ type: "text", text: "hidden" }],
  }));
  return server;
}

/**
 * An MCP server on a free loopback port. `stateful`: sessions (a transport per session, SSE
 * answers), else a stateless server answering JSON. `forget()` drops every session, as a server
 * restart would, so the next request carrying one gets 404. `huge`: offer the `huge` tool too.
 */
export async function startMcp({ stateful, huge = false }) {
  const log = { requests: [], calls: [] };
  const sessions = new Map();
  const http = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : undefined;
    const entry = { method: req.method, headers: req.headers, body, started: performance.now(), ms: null };
    log.requests.push(entry);
    res.on("finish", () => {
      entry.ms = performance.now() - entry.started;
    });
    try {
      if (!stateful) {
        const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
        res.on("close", () => transport.close());
        await toolsServer(log, { huge }).connect(transport);
        await transport.handleRequest(req, res, body);
        return;
      }
      const id = req.headers["mcp-session-id"];
      if (id !== undefined) {
        const transport = sessions.get(id);
        if (!transport) {
          res.writeHead(404, { "content-type": "application/json" });
          res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null }));
          return;
        }
        await transport.handleRequest(req, res, body);
        return;
      }
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => sessions.set(sid, transport),
      });
      await toolsServer(log, { huge }).connect(transport);
      await transport.handleRequest(req, res, body);
    } catch (error) {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(error));
    }
  });
  log.crash = () => http.closeAllConnections();
  await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${http.address().port}/mcp`;
  return {
    url,
    log,
    forget: () => sessions.clear(),
    close: () => new Promise((resolve) => {
      http.closeAllConnections();
      http.close(resolve);
    }),
  };
}
