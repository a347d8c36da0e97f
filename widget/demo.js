// A plain demo client for the chat API: sends a message, reads the UI message stream (SSE),
// and renders text with textContent only. The embeddable widget replaces this page later.
(function () {
  "use strict";
  var AGENT = "demo";
  var KEY = "pk_live_demo";
  var STORAGE_KEY = "edge-agent-chat:demo:conversation";
  var TOKEN_KEY = "edge-agent-chat:demo:visitor";
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("input");
  var send = document.getElementById("send");
  var stop = document.getElementById("stop");
  var notice = document.getElementById("notice");
  var controller = null;

  function newId(prefix) {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return prefix + "_" + Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  var conversationId = localStorage.getItem(STORAGE_KEY) || newId("chat");
  localStorage.setItem(STORAGE_KEY, conversationId);

  // The publishable key names the agent; the visitor token (issued by the first chat) lets this
  // browser read and continue its own conversations.
  function apiHeaders(extra) {
    var headers = Object.assign({ "x-publishable-key": KEY }, extra || {});
    var token = localStorage.getItem(TOKEN_KEY);
    if (token) headers["x-visitor-token"] = token;
    return headers;
  }

  function keepToken(res) {
    var token = res.headers.get("x-visitor-token");
    if (token) localStorage.setItem(TOKEN_KEY, token);
  }

  function bubble(role, text) {
    var el = document.createElement("div");
    el.className = "msg " + role;
    if (text) el.textContent = text;
    log.appendChild(el);
    el.scrollIntoView({ block: "end" });
    return el;
  }

  function toolNote(parent, name, state) {
    var note = document.createElement("span");
    note.className = "tool";
    note.textContent = "🔧 " + name + (state ? " — " + state : "");
    parent.insertBefore(note, parent.firstChild);
    return note;
  }

  function renderStored(message) {
    var el = bubble(message.role, "");
    var text = "";
    (message.parts || []).forEach(function (part) {
      if (part.type === "text") text += part.text;
      else if (part.type.indexOf("tool-") === 0) toolNote(el, part.type.slice(5), part.state === "output-error" ? "failed" : "done");
    });
    el.appendChild(document.createTextNode(text));
    var meta = message.metadata || {};
    if (meta.status === "error" && meta.error) bubble("error", meta.error);
    if (meta.status === "aborted") el.appendChild(document.createTextNode(" (stopped)"));
  }

  function busy(on) {
    send.disabled = on;
    stop.hidden = !on;
  }

  async function loadHistory() {
    if (!localStorage.getItem(TOKEN_KEY)) return;
    var res = await fetch("/api/agents/" + AGENT + "/conversations/" + encodeURIComponent(conversationId), { headers: apiHeaders() });
    if (res.status === 401) localStorage.removeItem(TOKEN_KEY);
    if (!res.ok) return;
    var data = await res.json();
    data.messages.forEach(renderStored);
  }

  async function checkHealth() {
    try {
      var health = await (await fetch("/api/health")).json();
      if (!health.model || !health.model.configured) {
        notice.textContent = "No model is configured. Add OPENROUTER_API_KEY to .dev.vars (or set OPENROUTER_BASE_URL to any OpenAI-compatible server) and restart `npm run dev`.";
        notice.hidden = false;
      }
    } catch (e) {
      notice.textContent = "The worker is not reachable: " + e.message;
      notice.hidden = false;
    }
  }

  async function readError(res) {
    try {
      var body = await res.json();
      return body.error && body.error.message ? body.error.message : res.statusText;
    } catch (e) {
      return res.status + " " + res.statusText;
    }
  }

  async function sendMessage(text) {
    bubble("user", text);
    var answer = bubble("assistant", "");
    var textNode = document.createTextNode("");
    answer.appendChild(textNode);
    var tools = {};
    controller = new AbortController();
    busy(true);
    try {
      var res = await fetch("/api/agents/" + AGENT + "/chat", {
        method: "POST",
        headers: apiHeaders({ "content-type": "application/json" }),
        body: JSON.stringify({
          id: conversationId,
          messages: [{ id: newId("msg"), role: "user", parts: [{ type: "text", text: text }] }],
        }),
        signal: controller.signal,
      });
      keepToken(res);
      if (!res.ok) {
        if (res.status === 401) localStorage.removeItem(TOKEN_KEY);
        answer.remove();
        bubble("error", await readError(res));
        return;
      }
      var reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      var buffer = "";
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buffer += chunk.value;
        var events = buffer.split("\n\n");
        buffer = events.pop();
        events.forEach(function (event) {
          var data = event.replace(/^data: /, "");
          if (!data || data === "[DONE]") return;
          var part = JSON.parse(data);
          if (part.type === "text-delta") textNode.data += part.delta;
          else if (part.type === "tool-input-start") tools[part.toolCallId] = toolNote(answer, part.toolName, "running…");
          else if (part.type === "tool-output-available" && tools[part.toolCallId]) tools[part.toolCallId].textContent = tools[part.toolCallId].textContent.replace("running…", "done");
          else if (part.type === "tool-output-error" && tools[part.toolCallId]) tools[part.toolCallId].textContent = tools[part.toolCallId].textContent.replace("running…", "failed");
          else if (part.type === "error") bubble("error", part.errorText);
        });
        answer.scrollIntoView({ block: "end" });
      }
    } catch (e) {
      if (e.name !== "AbortError") bubble("error", "Connection lost: " + e.message);
    } finally {
      controller = null;
      busy(false);
      input.focus();
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || controller) return;
    input.value = "";
    sendMessage(text);
  });
  stop.addEventListener("click", function () { if (controller) controller.abort(); });
  document.getElementById("reset").addEventListener("click", function () {
    conversationId = newId("chat");
    localStorage.setItem(STORAGE_KEY, conversationId);
    log.textContent = "";
  });

  checkHealth();
  loadHistory();
})();
