// Knowledge: bases, their sources with live status, and the retrieval playground (the same
// search chat uses). Only the management API (/api/admin/knowledge-bases…).
import { api, q, state } from "../lib/api.js";
import { field, h } from "../lib/dom.js";
import { date } from "../lib/format.js";
import { fail, go, heading, say } from "../lib/ui.js";

const STATUS_TEXT = { queued: "Queued", processing: "Processing", ready: "Ready", failed: "Failed" };

/** Every base of the tenant (all pages) and the search mode. */
export async function loadBases() {
  let all = [];
  let cursor = null;
  let mode = "lexical";
  do {
    const r = await api("GET", `/knowledge-bases${q({ limit: 200, cursor })}`);
    all = all.concat(r.body.knowledgeBases);
    mode = r.body.search?.mode || mode;
    cursor = r.body.nextCursor;
  } while (cursor);
  return { bases: all, mode };
}

function modeNote(mode) {
  return mode === "hybrid"
    ? h("p.hint", { text: "Search is hybrid: keywords and embeddings, fused." })
    : h("p.warn-box", { role: "note", text: "Search is keyword only: no embeddings endpoint is configured (set EMBEDDINGS_MODEL, see docs/knowledge.md)." });
}

export async function showKnowledge(_, view) {
  heading(view, "Knowledge");
  const name = field("Name", h("input", { name: "name", autocomplete: "off", required: true, maxlength: "200", placeholder: "e.g. Help center" }));
  const form = h("form.card.filters", null, h("h2", { text: "Create a knowledge base" }), name.row, h("button", { type: "submit", text: "Create" }));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    api("POST", "/knowledge-bases", { name: name.input.value.trim() }).then((r) => {
      say(`Knowledge base “${r.body.knowledgeBase.name}” created.`, "ok");
      go(`knowledge-base/${encodeURIComponent(r.body.knowledgeBase.id)}`);
    }).catch(fail);
  });
  const { bases, mode } = await loadBases();
  const table = h("table", null, h("caption.sr", { text: "Knowledge bases" }),
    h("thead", null, h("tr", null, ["Name", "Id", "Created"].map((t) => h("th", { scope: "col", text: t })))));
  const body = h("tbody");
  for (const b of bases) {
    body.append(h("tr", null, h("td", null, h("a", { href: `#knowledge-base/${encodeURIComponent(b.id)}`, text: b.name })),
      h("td", null, h("code", { text: b.id })), h("td", { text: date(b.createdAt) })));
  }
  table.append(body);
  view.append(modeNote(mode), form, bases.length ? h("div.scroll", null, table) : h("p", { text: "No knowledge bases yet. Create one, add sources, then pick it on an agent's page." }));
}

/** Adds a source as JSON or as a file upload (multipart). */
async function addSource(baseId, body, file) {
  if (!file) return api("POST", `/knowledge-bases/${encodeURIComponent(baseId)}/sources`, body);
  const form = new FormData();
  form.append("file", file, file.name);
  const res = await fetch(`/api/admin/knowledge-bases/${encodeURIComponent(baseId)}/sources`, { method: "POST", headers: { authorization: `Bearer ${state.key}` }, body: form });
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = (data && data.error) || {};
    throw Object.assign(new Error(`${err.message || `The upload failed (HTTP ${res.status}).`}${err.field ? ` (field: ${err.field})` : ""}`), { status: res.status });
  }
  return { body: data, res };
}

export async function showBase(id, view) {
  const path = `/knowledge-bases/${encodeURIComponent(id)}`;
  const r = await api("GET", path);
  const base = r.body.knowledgeBase;
  heading(view, base.name, h("div.actions", null,
    h("button.secondary", { type: "button", text: "Rename", onclick: () => {
      const name = prompt("New name", base.name);
      if (!name) return;
      api("PATCH", path, { name }).then(() => { say("Renamed.", "ok"); go(`knowledge-base/${encodeURIComponent(id)}`); }).catch(fail);
    } }),
    h("button.danger", { type: "button", text: "Delete", onclick: () => {
      if (!confirm(`Delete “${base.name}” with all its sources? Agents using it stop finding anything in it.`)) return;
      api("DELETE", path).then(() => { say("Knowledge base deleted.", "ok"); go("knowledge"); }).catch(fail);
    } })));

  // Adding a source: one form whose fields follow the chosen type.
  const type = field("Type", h("select", { name: "type" },
    [["text", "Text"], ["qa", "Question and answer"], ["url", "Web page"], ["sitemap", "Sitemap (several pages)"], ["crawl", "Crawl a site (follow links)"], ["file", "File (txt, md, html, csv, pdf, docx)"]].map(([v, t]) => h("option", { value: v, text: t }))));
  const title = field("Title", h("input", { name: "title", autocomplete: "off", maxlength: "200" }));
  const text = field("Text", h("textarea", { name: "text", rows: "6" }), "Markdown headings (#, ##) are kept as structure.");
  const question = field("Question", h("input", { name: "question", autocomplete: "off" }));
  const answer = field("Answer", h("textarea", { name: "answer", rows: "3" }), "A curated answer: it wins over other passages when the question matches.");
  const url = field("URL", h("input", { name: "url", type: "url", placeholder: "https://docs.example.com/returns" }), "https on a public host; robots.txt is obeyed.");
  const maxPages = field("Most pages", h("input", { name: "maxPages", type: "number", min: "1", max: "500", value: "50" }), "Pages on the same host only.");
  const maxDepth = field("Most links deep", h("input", { name: "maxDepth", type: "number", min: "0", max: "5", value: "2" }), "0: the start page alone; 1: it and the pages it links to; and so on.");
  const file = field("File", h("input", { name: "file", type: "file", accept: ".txt,.md,.markdown,.html,.htm,.csv,.pdf,.docx" }), "At most 10 MiB. PDF and DOCX keep their headings, lists and tables; scanned PDFs (images only) have no text to read.");
  const rows = { text: [title, text], qa: [question, answer], url: [url], sitemap: [url, maxPages], crawl: [url, maxPages, maxDepth], file: [file] };
  const sync = () => {
    for (const f of [title, text, question, answer, url, maxPages, maxDepth, file]) f.row.hidden = !rows[type.input.value].includes(f);
  };
  type.input.addEventListener("change", sync);
  const addForm = h("form.card", null, h("h2", { text: "Add a source" }), type.row, title.row, text.row, question.row, answer.row, url.row, maxPages.row, maxDepth.row, file.row,
    h("div.actions", null, h("button", { type: "submit", text: "Add source" })));
  sync();
  addForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const kind = type.input.value;
    const bodies = {
      text: () => ({ type: "text", title: title.input.value.trim(), text: text.input.value }),
      qa: () => ({ type: "qa", question: question.input.value.trim(), answer: answer.input.value }),
      url: () => ({ type: "url", url: url.input.value.trim() }),
      sitemap: () => ({ type: "sitemap", url: url.input.value.trim(), maxPages: Number(maxPages.input.value) || undefined }),
      crawl: () => ({
        type: "crawl",
        url: url.input.value.trim(),
        maxPages: Number(maxPages.input.value) || undefined,
        maxDepth: maxDepth.input.value === "" ? undefined : Number(maxDepth.input.value),
      }),
      file: () => null,
    };
    const chosen = kind === "file" ? file.input.files[0] : null;
    if (kind === "file" && !chosen) return say("Choose a file first.", "error");
    addSource(id, bodies[kind](), chosen).then((added) => {
      const source = added.body.source;
      // A PDF or DOCX whose text cannot be read is added as failed, with the reason.
      if (source.status === "failed") say(`${source.title} could not be read: ${source.error}`, "error");
      else say("Source added: it is being ingested.", "ok");
      addForm.reset();
      sync();
      return load();
    }).catch(fail);
  });

  const list = h("div");
  let timer = null;
  async function load() {
    if (!list.isConnected && timer) return;
    let all = [];
    let cursor = null;
    do {
      const s = await api("GET", `${path}/sources${q({ limit: 200, cursor })}`);
      all = all.concat(s.body.sources);
      cursor = s.body.nextCursor;
    } while (cursor);
    const table = h("table#sources", null, h("caption.sr", { text: "Sources" }),
      h("thead", null, h("tr", null, ["Source", "Type", "Status", "Chunks", "Updated", ""].map((t) => h("th", { scope: "col", text: t || null }, t ? null : h("span.sr", { text: "Actions" }))))));
    const tbody = h("tbody");
    for (const s of all) {
      const status = s.status === "processing" ? `${STATUS_TEXT[s.status]} (${s.progress}%)` : STATUS_TEXT[s.status] || s.status;
      const label = s.url && s.type !== "file" ? h("a", { href: s.url, target: "_blank", rel: "noopener", text: s.title }) : h("span", { text: s.title });
      tbody.append(h("tr", { "data-status": s.status }, h("td", null, label, s.error ? h("div.hint.error-text", { text: s.error }) : null),
        h("td", { text: s.type }), h("td", { text: status }), h("td", { text: String(s.chunkCount) }), h("td", { text: date(s.updatedAt) }),
        h("td", null,
          h("button.secondary", { type: "button", text: "Re-sync", "aria-label": `Re-sync ${s.title}`, onclick: () => {
            api("POST", `${path}/sources/${encodeURIComponent(s.id)}/sync`).then(() => { say("Re-sync queued.", "ok"); return load(); }).catch(fail);
          } }),
          h("button.danger", { type: "button", text: "Delete", "aria-label": `Delete ${s.title}`, onclick: () => {
            if (!confirm(`Delete the source “${s.title}”? Its passages are no longer found.`)) return;
            api("DELETE", `${path}/sources/${encodeURIComponent(s.id)}`).then(() => { say("Source deleted.", "ok"); return load(); }).catch(fail);
          } }))));
    }
    table.append(tbody);
    list.replaceChildren(all.length ? h("div.scroll", null, table) : h("p", { text: "No sources yet." }));
    clearTimeout(timer);
    // Refresh while anything is still being ingested, and only while this view is shown.
    if (all.some((s) => s.status === "queued" || s.status === "processing")) {
      timer = setTimeout(() => { if (list.isConnected) load().catch(fail); }, 1500);
    }
  }

  // The playground: the search chat uses, with scores and sources.
  const query = field("Query", h("input", { name: "query", autocomplete: "off", placeholder: "How do refunds work?" }));
  const topK = field("Results", h("input", { name: "topK", type: "number", min: "1", max: "50", value: "5" }));
  const results = h("ol#playground-results.hits");
  const playground = h("form.card", null, h("h2", { text: "Playground" }), h("p.hint", { text: "Ranked passages with their scores (1 = first in both the keyword and the vector ranking)." }),
    query.row, topK.row, h("div.actions", null, h("button", { type: "submit", text: "Search" })), results);
  playground.addEventListener("submit", (e) => {
    e.preventDefault();
    api("POST", `${path}/search`, { query: query.input.value, topK: Number(topK.input.value) || 5 }).then((s) => {
      results.replaceChildren(...s.body.hits.map((hit) => h("li", null,
        h("div", null, h("strong", { text: hit.title }), hit.heading ? h("span.hint", { text: ` — ${hit.heading}` }) : null, h("span.score", { text: ` score ${hit.score.toFixed(3)}` })),
        hit.url ? h("a", { href: hit.url, target: "_blank", rel: "noopener", text: hit.url }) : null,
        h("p", { text: hit.text }))));
      if (!s.body.hits.length) results.replaceChildren(h("li", { text: "Nothing found." }));
      say(`${s.body.hits.length} passages (${s.body.mode === "hybrid" ? "hybrid" : "keyword only"}).`, "ok");
    }).catch(fail);
  });

  view.append(h("p.hint", null, "Id ", h("code", { text: base.id }), ". Pick this base on an agent's page (Knowledge) to let it answer from these sources."),
    addForm, h("h2", { text: "Sources" }), list, playground);
  await load();
}
