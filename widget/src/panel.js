// The chat panel, loaded by the loader on first open (or when the browser is idle), or at once
// for an inline <chat-widget>. It lives in the host element's shadow root, so neither the page's
// styles nor ours leak across. Answers stream from the worker's AI SDK UI message stream.
import { link, render } from "./markdown.js";
import { strings } from "./i18n.js";

var SVG = "http://www.w3.org/2000/svg";
var ICONS = {
  send: "M3 20 21 12 3 4v6l12 2-12 2z",
  stop: "M7 7h10v10H7z",
  close: "M6 6l12 12M18 6 6 18",
  new: "M12 5v14M5 12h14",
  up: "M7 22H4V11h3m0 11h10.3a2 2 0 0 0 2-1.7l1.4-7A2 2 0 0 0 18.7 11H14V6a3 3 0 0 0-3-3l-4 8",
  down: "M17 2h3v11h-3M17 2H6.7a2 2 0 0 0-2 1.7l-1.4 7A2 2 0 0 0 5.3 13H10v5a3 3 0 0 0 3 3l4-8",
};

function el(tag, className, text) {
  var node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

function icon(name) {
  var svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  var path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name]);
  svg.appendChild(path);
  return svg;
}

function button(className, label, iconName, text) {
  var b = el("button", className, text);
  b.type = "button";
  if (label) b.setAttribute("aria-label", label);
  if (iconName) b.appendChild(icon(iconName));
  return b;
}

/**
 * Black or white, whichever contrasts more with `color` (WCAG relative luminance). A canvas
 * resolves any CSS colour to sRGB bytes, so names and rgb()/hsl() work like hex.
 */
export function textOn(color) {
  try {
    var ctx = document.createElement("canvas").getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillStyle = color;
    ctx.fillRect(0, 0, 1, 1);
    var d = ctx.getImageData(0, 0, 1, 1).data;
    var lin = function (c) { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    var l = 0.2126 * lin(d[0]) + 0.7152 * lin(d[1]) + 0.0722 * lin(d[2]);
    return 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 ? "#fff" : "#111";
  } catch (e) {
    return "#fff";
  }
}

/**
 * Whether the page around `node` is dark: the first opaque background up the tree, else the
 * page's own colour scheme. An inline chat with theme "auto" matches the page it sits in, not
 * the visitor's system setting (a light page on a dark system would get a dark box).
 */
function pageIsDark(node) {
  for (var n = node; n && n.nodeType === 1; n = n.parentNode || n.host) {
    var m = /rgba?\(([\d.]+)[, ]+([\d.]+)[, ]+([\d.]+)(?:[, /]+([\d.]+))?/.exec(getComputedStyle(n).backgroundColor);
    if (m && (m[4] == null || Number(m[4]) > 0.5)) return 0.299 * m[1] + 0.587 * m[2] + 0.114 * m[3] < 128;
  }
  var scheme = getComputedStyle(document.documentElement).colorScheme || "";
  return /dark/.test(scheme) && !/light/.test(scheme) || /light dark|dark light/.test(scheme) && matchMedia("(prefers-color-scheme: dark)").matches;
}

function randomId(prefix) {
  var bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return prefix + "_" + Array.from(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
}

/** localStorage that falls back to memory where storage is blocked. */
var memory = {};
var store = {
  get: function (k) {
    try { return localStorage.getItem(k); } catch (e) { return memory[k] == null ? null : memory[k]; }
  },
  set: function (k, v) {
    try { localStorage.setItem(k, v); } catch (e) { memory[k] = v; }
  },
  del: function (k) {
    try { localStorage.removeItem(k); } catch (e) { delete memory[k]; }
  },
};

/** An API error with the worker's code. */
function apiError(status, body, fallback) {
  var e = new Error((body && body.error && body.error.message) || fallback);
  e.code = (body && body.error && body.error.code) || "http_" + status;
  e.status = status;
  return e;
}

/** Reads the UI message stream: calls `onChunk` for every JSON chunk until `[DONE]`. */
async function readStream(body, onChunk) {
  var reader = body.pipeThrough(new TextDecoderStream()).getReader();
  var buffer = "";
  for (;;) {
    var next = await reader.read();
    if (next.done) return;
    buffer += next.value;
    var events = buffer.split(/\r?\n\r?\n/);
    buffer = events.pop();
    for (var i = 0; i < events.length; i++) {
      var data = events[i].split(/\r?\n/).filter(function (l) { return l.indexOf("data:") === 0; })
        .map(function (l) { return l.slice(5).replace(/^ /, ""); }).join("\n");
      if (!data) continue;
      if (data === "[DONE]") return;
      onChunk(JSON.parse(data));
    }
  }
}

/**
 * Mounts a panel into `root` (a shadow root). Options: `base` (worker origin), `key`
 * (publishable key), `mode` ("launcher" or "inline"), `config` (a promise of the public config,
 * when the loader already asked), `launcher` (the launcher button), `emit(name, detail)`,
 * `storagePrefix` (localStorage key prefix, default "edgechat:") and `previewKey` (the tenant's
 * secret key: only the dashboard's preview, same origin as the worker, passes it).
 */
export function mount(root, options) {
  var base = options.base;
  var mode = options.mode || "launcher";
  var emit = options.emit || function () {};
  var i18n = strings(navigator.language);
  var t = function (k, a) { return i18n.t(k, a); };
  var config = null;
  var context = {};
  var busy = null;
  var lastUser = null;
  var pendingOpen = false;
  var broken = false;
  var destroyed = false;
  var keys = {};
  // The dashboard's preview keeps its own visitor and conversation (its page may share an origin
  // with a real embed), and proves with the tenant's secret key that it is a preview.
  var prefix = options.storagePrefix || "edgechat:";

  var css = el("link");
  css.rel = "stylesheet";
  css.href = base + "/chat-panel.css";
  // The panel shows only once styled, so it never flashes unstyled.
  var styled = new Promise(function (resolve) { css.onload = css.onerror = resolve; });
  root.appendChild(css);

  var panel = el("section", "ec-panel ec-" + mode);
  panel.setAttribute("role", mode === "inline" ? "region" : "dialog");
  panel.setAttribute("aria-labelledby", "ec-title");
  if (mode === "launcher") panel.hidden = true;
  var header = el("header", "ec-header");
  var avatar = el("img", "ec-avatar");
  avatar.alt = "";
  avatar.hidden = true;
  var title = el("h2", "ec-title");
  title.id = "ec-title";
  var newChat = button("ec-icon", "", "new");
  var close = button("ec-icon", "", "close");
  close.hidden = mode !== "launcher";
  header.append(avatar, title, newChat, close);

  var log = el("div", "ec-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "off");
  log.tabIndex = 0;
  var starters = el("div", "ec-starters");
  var status = el("div", "ec-status");
  status.setAttribute("role", "status");
  var announce = el("div", "ec-sr");
  announce.setAttribute("aria-live", "polite");

  var form = el("form", "ec-composer");
  var label = el("label", "ec-sr");
  label.htmlFor = "ec-input";
  var input = el("textarea", "ec-input");
  input.id = "ec-input";
  input.rows = 1;
  input.maxLength = 4000;
  var send = button("ec-send", "", "send");
  send.type = "submit";
  var stop = button("ec-stop", "", "stop");
  stop.hidden = true;
  form.append(label, input, send, stop);
  var powered = el("p", "ec-powered");
  panel.append(header, log, starters, status, announce, form, powered);
  root.appendChild(panel);

  function applyTexts() {
    panel.lang = i18n.lang;
    panel.dir = i18n.dir;
    newChat.setAttribute("aria-label", t("newChat"));
    newChat.title = t("newChat");
    close.setAttribute("aria-label", t("close"));
    label.textContent = t("message");
    send.setAttribute("aria-label", t("send"));
    stop.setAttribute("aria-label", t("stop"));
    log.setAttribute("aria-label", t("conversation"));
    if (options.launcher) options.launcher.setAttribute("aria-label", t("open"));
  }
  applyTexts();

  // ---- status line: typing, tools, errors -------------------------------------------------

  // The typing dots sit where the answer will appear, as the conversation's last row.
  var typingRow = el("div", "ec-msg ec-assistant ec-typing");
  var dots = el("div", "ec-bubble ec-dots");
  dots.setAttribute("aria-hidden", "true");
  dots.append(el("i"), el("i"), el("i"));
  typingRow.appendChild(dots);

  function setStatus(text, kind) {
    status.textContent = "";
    status.className = "ec-status" + (kind ? " ec-" + kind : "");
    if (kind === "typing") {
      log.appendChild(typingRow);
      scroll();
      status.appendChild(el("span", "ec-sr", text));
      return;
    }
    typingRow.remove();
    if (text) status.appendChild(el("span", null, text));
  }

  /** An error in the conversation, where the answer would have been, with Retry next to it. */
  function errorRow(message, retry, parent) {
    var box = el("div", "ec-failed");
    box.setAttribute("role", "alert");
    box.appendChild(el("span", null, message));
    if (retry) {
      var again = button("ec-retry", null, null, t("retry"));
      again.onclick = retry;
      box.appendChild(again);
    }
    if (!parent) {
      parent = el("div", "ec-msg ec-assistant");
      log.appendChild(parent);
    }
    parent.appendChild(box);
    scroll();
    return box;
  }

  function fail(error, retry) {
    var refused = error.code === "origin_not_allowed";
    var message = refused ? t("unavailable")
      : error.code === "rate_limited" ? t("wait", error.retryAfter || 60)
      : error instanceof TypeError ? t("offline")
      : error.message || t("error");
    setStatus("");
    if (refused) {
      // For the site's owner, not the visitor: the exact origin to allow.
      console.warn("Edge Agent Chat: " + location.origin + " is not in this agent's allowed origins, so the chat is off here. Add " +
        location.origin + " to the agent's allowed origins (dashboard: Agents, Where will this chat run?). Server: " + error.message);
    }
    if (retry || refused) errorRow(message, refused ? null : retry);
    else setStatus(message, "error");
    emit("error", { code: error.code || "network", message: message, detail: error.message, origin: location.origin });
  }

  // ---- messages -----------------------------------------------------------------------------

  function scroll() {
    log.scrollTop = log.scrollHeight;
  }

  function addUser(text) {
    var row = el("div", "ec-msg ec-user");
    row.appendChild(el("div", "ec-bubble", text));
    log.insertBefore(row, typingRow.parentNode === log ? typingRow : null);
    scroll();
  }

  /** The quoted passage a knowledge citation carries (providerMetadata.knowledge.text). */
  function passageOf(part) {
    var k = part.providerMetadata && part.providerMetadata.knowledge;
    return k && typeof k.text === "string" ? k.text : "";
  }

  /** An assistant message view: `text(markdown)`, `tool(id, name, state)`, `source(url, title)`, `done(id, feedback)`. */
  function addAssistant(welcome) {
    var row = el("div", "ec-msg ec-assistant");
    var bubble = el("div", "ec-bubble");
    var tools = el("div", "ec-tools");
    var sources = null;
    var notes = {};
    var names = {};
    var textNow = "";
    var frame = 0;
    row.append(tools, bubble);
    log.insertBefore(row, typingRow.parentNode === log ? typingRow : null);
    function paint() {
      frame = 0;
      bubble.textContent = "";
      bubble.appendChild(render(textNow));
      scroll();
    }
    var view = {
      row: row,
      text: function (markdown) {
        textNow = markdown;
        if (!frame) frame = requestAnimationFrame(paint);
      },
      flush: function () {
        if (frame) cancelAnimationFrame(frame);
        paint();
      },
      plain: function () { return textNow; },
      // What a screen reader should hear: the rendered text, not the Markdown source.
      spoken: function () { return bubble.textContent; },
      fail: function (message, retry) { errorRow(message, retry, row); },
      tool: function (id, name, state) {
        var note = notes[id] || (notes[id] = tools.appendChild(el("div", "ec-tool")));
        name = names[id] = name || names[id] || "";
        // Visitors read what is happening, never the tool's internal name.
        note.textContent = t(state === "running" ? "tool" : state === "done" ? "toolDone" : "toolFailed");
        note.className = "ec-tool ec-" + state;
        note.setAttribute("data-tool", name);
        scroll();
      },
      // A numbered source card: a page opens in a new tab; a document (no URL) shows the
      // quoted passage when opened.
      source: function (url, label, passage) {
        if (!sources) {
          sources = el("div", "ec-sources");
          sources.appendChild(el("span", "ec-sources-title", t("sources")));
          sources.appendChild(el("ol"));
          row.appendChild(sources);
        }
        var li = el("li");
        if (url) li.appendChild(link(url, label || url));
        else {
          var card = el("details", "ec-doc");
          card.appendChild(el("summary", null, label || t("sources")));
          if (passage) card.appendChild(el("blockquote", null, passage));
          li.appendChild(card);
        }
        sources.lastChild.appendChild(li);
        scroll();
      },
      note: function (text) {
        row.appendChild(el("p", "ec-note", text));
        scroll();
      },
      done: function (id, feedback) {
        if (!id || welcome) return;
        row.setAttribute("data-id", id);
        var actions = el("div", "ec-actions");
        var up = button("ec-rate", t("helpful"), "up");
        var down = button("ec-rate", t("unhelpful"), "down");
        function show(value) {
          up.setAttribute("aria-pressed", String(value === "up"));
          down.setAttribute("aria-pressed", String(value === "down"));
        }
        function rate(value) {
          var next = up.getAttribute("aria-pressed") === "true" && value === "up" ||
            down.getAttribute("aria-pressed") === "true" && value === "down" ? null : value;
          show(next);
          call("POST", "/conversations/" + encodeURIComponent(chatId()) + "/messages/" + encodeURIComponent(id) + "/feedback", { rating: next })
            .then(function () { if (next) setStatus(t("thanks")); })
            .catch(function (e) { fail(e); });
        }
        up.onclick = function () { rate("up"); };
        down.onclick = function () { rate("down"); };
        show(feedback);
        actions.append(up, down);
        row.appendChild(actions);
        // The thumbs row is the conversation's new bottom: keep it in view.
        scroll();
      },
    };
    return view;
  }

  /** Renders a stored UIMessage. */
  function renderStored(message) {
    var parts = message.parts || [];
    if (message.role === "user") {
      addUser(parts.filter(function (p) { return p.type === "text"; }).map(function (p) { return p.text; }).join("\n"));
      return;
    }
    var view = addAssistant(false);
    var text = "";
    parts.forEach(function (p) {
      if (p.type === "text") text += p.text;
      else if (p.type === "source-url") view.source(p.url, p.title);
      else if (p.type === "source-document") view.source(null, p.title, passageOf(p));
      else if (p.type.indexOf("tool-") === 0) view.tool(p.toolCallId, p.type.slice(5), p.state === "output-error" ? "failed" : "done");
    });
    view.text(text);
    view.flush();
    var meta = message.metadata || {};
    if (meta.status === "aborted") view.note(t("stopped"));
    if (meta.status === "error" && meta.error) view.fail(meta.error, null);
    view.done(message.id, meta.feedback);
  }

  function showWelcome() {
    log.textContent = "";
    starters.textContent = "";
    if (config.welcomeMessage) {
      var view = addAssistant(true);
      view.text(config.welcomeMessage);
      view.flush();
    }
    (config.starterPrompts || []).forEach(function (prompt) {
      var b = button("ec-starter", null, null, prompt);
      b.onclick = function () { sendText(prompt); };
      starters.appendChild(b);
    });
  }

  // ---- the API ------------------------------------------------------------------------------

  function headers(extra) {
    var h = { "x-publishable-key": options.key };
    if (options.previewKey) h.authorization = "Bearer " + options.previewKey;
    var token = store.get(keys.token);
    if (token) h["x-visitor-token"] = token;
    return Object.assign(h, extra || {});
  }

  function keepToken(res) {
    var token = res.headers.get("x-visitor-token");
    if (token) store.set(keys.token, token);
    if (res.status === 401) store.del(keys.token);
  }

  async function call(method, path, body) {
    var res = await fetch(base + "/api/agents/" + encodeURIComponent(config.agentId) + path, {
      method: method,
      headers: headers(body ? { "content-type": "application/json" } : null),
      body: body ? JSON.stringify(body) : undefined,
    });
    keepToken(res);
    var json = await res.json().catch(function () { return null; });
    if (!res.ok) throw apiError(res.status, json, t("error"));
    return json;
  }

  // The conversation id minted here that has no message yet: its first message says so.
  var freshChat = null;

  function newChatId() {
    freshChat = randomId("chat");
    store.set(keys.chat, freshChat);
    return freshChat;
  }

  function chatId() {
    return store.get(keys.chat) || newChatId();
  }

  async function loadHistory() {
    showWelcome();
    var id = store.get(keys.chat);
    if (!id || !store.get(keys.token)) return;
    try {
      var conversation = await call("GET", "/conversations/" + encodeURIComponent(id));
      if (conversation.messages.length) starters.textContent = "";
      conversation.messages.forEach(renderStored);
    } catch (e) {
      // A conversation this visitor cannot see (or no longer has) starts over.
      if (e.status === 404 || e.status === 401) store.del(keys.chat);
      else fail(e, loadHistory);
    }
  }

  function setBusy(controller) {
    busy = controller;
    send.hidden = !!controller;
    stop.hidden = !controller;
    input.setAttribute("aria-busy", String(!!controller));
  }

  async function sendText(text, messageId) {
    text = String(text || "").trim();
    if (!text || busy || !config) return;
    starters.textContent = "";
    if (!messageId) {
      messageId = randomId("msg");
      addUser(text);
      emit("message", { role: "user", text: text });
    }
    lastUser = { text: text, id: messageId };
    var controller = new AbortController();
    setBusy(controller);
    setStatus(t("typing"), "typing");
    var view = null;
    var answerId = null;
    var answer = "";
    var failed = null;
    var page = config.sendPageContext === false ? null
      : Object.assign({ url: location.href, title: document.title.slice(0, 500) }, context);
    try {
      // Whether this message starts the conversation: then the server may ask the model
      // before its store has answered (docs/api-reference.md, `first`).
      var id = chatId();
      var first = id === freshChat;
      var res = await fetch(base + "/api/agents/" + encodeURIComponent(config.agentId) + "/chat", {
        method: "POST",
        headers: headers({ "content-type": "application/json" }),
        body: JSON.stringify({
          id: id,
          first: first,
          messages: [{ id: messageId, role: "user", parts: [{ type: "text", text: text }] }],
          context: page,
          channel: mode === "inline" ? "inline" : "widget",
          preview: !!options.previewKey || undefined,
        }),
        signal: controller.signal,
      });
      keepToken(res);
      if (res.ok && first) freshChat = null;
      if (!res.ok) {
        var error = apiError(res.status, await res.json().catch(function () { return null; }), t("error"));
        error.retryAfter = res.headers.get("retry-after");
        throw error;
      }
      view = addAssistant(false);
      await readStream(res.body, function (chunk) {
        switch (chunk.type) {
          case "start":
            answerId = chunk.messageId;
            break;
          case "text-delta":
            if (!answer) setStatus("");
            answer += chunk.delta;
            view.text(answer);
            break;
          case "tool-input-start":
            view.tool(chunk.toolCallId, chunk.toolName, "running");
            setStatus("");
            break;
          case "tool-output-available":
          case "tool-output-error":
          case "tool-input-error":
            view.tool(chunk.toolCallId, chunk.toolName || "", chunk.type === "tool-output-available" ? "done" : "failed");
            setStatus(t("typing"), "typing");
            break;
          case "source-url":
            view.source(chunk.url, chunk.title);
            break;
          case "source-document":
            view.source(null, chunk.title, passageOf(chunk));
            break;
          case "error":
            failed = chunk.errorText;
            break;
        }
      });
      view.flush();
      setStatus("");
      if (failed) {
        view.fail(failed, retry);
        announce.textContent = failed;
        emit("error", { code: "answer_failed", message: failed });
      } else {
        view.done(answerId, null);
        announce.textContent = view.spoken();
        emit("message", { role: "assistant", text: view.plain(), id: answerId });
      }
      store.set(keys.updated, String(Date.now()));
    } catch (e) {
      if (destroyed) return;
      if (e.name === "AbortError") {
        if (view) {
          view.flush();
          view.note(t("stopped"));
        }
        setStatus("");
      } else {
        if (view && !view.plain()) view.row.remove();
        if (e.code === "invalid_token" || e.code === "token_expired") store.del(keys.chat);
        fail(e, retry);
      }
    } finally {
      setBusy(null);
    }
  }

  /** Sends the last user message again; the worker replaces the answer it had. */
  function retry() {
    if (!lastUser || busy) return;
    var failedRow = log.lastChild;
    if (failedRow && failedRow.classList.contains("ec-assistant")) failedRow.remove();
    setStatus("");
    sendText(lastUser.text, lastUser.id);
  }

  // ---- controls -------------------------------------------------------------------------------

  function submit(event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim() || busy) return;
    input.value = "";
    grow();
    sendText(text);
  }
  form.onsubmit = submit;
  input.onkeydown = function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      // requestSubmit() is missing before Safari 16, below the widget's browser floor.
      submit(event);
    }
  };
  function grow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 160) + "px";
  }
  input.oninput = grow;
  stop.onclick = function () { if (busy) busy.abort(); };
  newChat.onclick = function () { controller.newConversation(); };
  close.onclick = function () { controller.close(); };
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && mode === "launcher") controller.close();
  });
  function onStorage(event) {
    // Another tab of this site started a conversation or got an answer: show the same.
    if (config && (event.key === keys.chat || event.key === keys.updated) && !busy) loadHistory();
  }
  window.addEventListener("storage", onStorage);

  function setLauncher(open) {
    if (!options.launcher) return;
    // The launcher becomes the close button while the panel is open.
    options.launcher.setAttribute("aria-expanded", String(open));
    options.launcher.setAttribute("aria-label", t(open ? "close" : "open"));
  }

  var controller = {
    open: function () {
      if (!config && !broken) {
        // Opens as soon as the config has arrived; the promise settles then.
        pendingOpen = true;
        return ready;
      }
      if (!panel.hidden) return;
      panel.hidden = false;
      setLauncher(true);
      (broken ? close : input).focus();
      scroll();
      emit("open");
    },
    close: function () {
      if (mode !== "launcher" || panel.hidden) return;
      panel.hidden = true;
      setLauncher(false);
      if (options.launcher) options.launcher.focus();
      emit("close");
    },
    toggle: function () {
      if (panel.hidden) controller.open();
      else controller.close();
    },
    /** Removes the panel and everything it listens to (a remount, such as a preview, starts clean). */
    destroy: function () {
      destroyed = true;
      if (busy) busy.abort();
      window.removeEventListener("storage", onStorage);
      panel.remove();
      css.remove();
      setLauncher(false);
    },
    newConversation: function () {
      if (busy) busy.abort();
      newChatId();
      setStatus("");
      if (config) showWelcome();
      input.focus();
    },
    setContext: function (values) {
      Object.keys(values || {}).forEach(function (k) {
        if (values[k] == null) delete context[k];
        else context[k] = values[k];
      });
    },
    identify: async function (user) {
      user = user || {};
      if (user.name) context.userName = String(user.name);
      if (user.email) context.userEmail = String(user.email);
      if (!user.userId) return;
      await ready;
      var res = await call("POST", "/visitor", { userId: String(user.userId), userHash: String(user.userHash || "") });
      store.set(keys.token, res.token);
      // The signed-in user has their own conversations; start with a fresh one.
      newChatId();
      loadHistory();
    },
  };

  var ready = Promise.all([options.config || fetch(base + "/api/widget/config", { headers: { "x-publishable-key": options.key } })
    .then(function (res) {
      return res.json().catch(function () { return null; }).then(function (body) {
        if (!res.ok) throw apiError(res.status, body, t("error"));
        return body;
      });
    }), styled])
    .then(function (loaded) {
      var c = loaded[0];
      config = c;
      if (c.locale) i18n = strings(c.locale);
      applyTexts();
      var b = c.branding || {};
      keys = { token: prefix + c.agentId + ":visitor", chat: prefix + c.agentId + ":chat", updated: prefix + c.agentId + ":updated" };
      title.textContent = b.title || c.name || t("chat");
      input.placeholder = b.placeholder || t("placeholder");
      input.maxLength = c.maxMessageChars || 4000;
      if (b.avatarUrl && /^https?:/.test(b.avatarUrl)) {
        avatar.src = b.avatarUrl;
        avatar.hidden = false;
      }
      if (b.primaryColor && CSS.supports("color", b.primaryColor)) {
        panel.style.setProperty("--ec-accent", b.primaryColor);
        panel.style.setProperty("--ec-on-accent", textOn(b.primaryColor));
      }
      var theme = /^(light|dark)$/.test(b.theme) ? b.theme : "auto";
      if (theme === "auto" && mode === "inline") theme = pageIsDark(root.host) ? "dark" : "light";
      panel.setAttribute("data-theme", theme);
      panel.setAttribute("data-position", b.position === "bottom-left" ? "left" : "right");
      powered.textContent = "";
      if (b.showPoweredBy !== false) {
        powered.append(t("powered") + " ", link("https://github.com/edge-agent-chat/edge-agent-chat", "Edge Agent Chat"));
      }
      return loadHistory();
    })
    .then(function () {
      if (pendingOpen || mode === "inline") {
        pendingOpen = false;
        if (mode === "launcher") controller.open();
      }
    })
    .catch(function (e) {
      if (destroyed) return;
      config = null;
      broken = true;
      title.textContent = t("chat");
      form.hidden = true;
      // Show the reason in the panel rather than a broken one.
      panel.hidden = mode === "launcher" && !pendingOpen;
      fail(e);
    });

  controller.ready = ready;
  return controller;
}

window.EdgeChatPanel = { mount: mount };
