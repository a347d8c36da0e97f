// The embed loader. `<script src="https://<worker>/widget.js" data-key="pk_live_…" async>` adds a
// launcher button; the chat panel (chat-panel.js/.css) loads when the browser is idle or on
// first open. It also defines `<chat-widget key="pk_live_…">` for chats inside the page, and
// `window.EdgeChat`: open, close, toggle, identify, setContext, newConversation, on, off.
(function () {
  var script = document.currentScript;
  var base = new URL(script ? script.src : location.href).origin;
  var key = script && script.getAttribute("data-key");
  var listeners = {};
  var loading;
  var widget;

  function loadPanel() {
    return loading || (loading = new Promise(function (resolve, reject) {
      if (window.EdgeChatPanel) return resolve(window.EdgeChatPanel);
      var s = document.createElement("script");
      s.src = base + "/chat-panel.js";
      s.async = true;
      s.onload = function () { resolve(window.EdgeChatPanel); };
      s.onerror = function () {
        loading = null;
        reject(new Error("The chat could not be loaded."));
      };
      document.head.appendChild(s);
    }));
  }

  function emit(name, detail) {
    (listeners[name] || []).forEach(function (fn) { fn(detail); });
  }

  function config() {
    return fetch(base + "/api/widget/config", { headers: { "x-publishable-key": key } }).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) throw Object.assign(new Error(body.error.message), { code: body.error.code, status: res.status });
        return body;
      });
    });
  }

  /** #111 or white, whichever reads better on `color` (the panel does the same, in detail). */
  function contrast(color) {
    var c = document.createElement("canvas").getContext("2d");
    c.fillStyle = color;
    c.fillRect(0, 0, 1, 1);
    var d = c.getImageData(0, 0, 1, 1).data;
    return 0.2126 * d[0] * d[0] + 0.7152 * d[1] * d[1] + 0.0722 * d[2] * d[2] > 0.18 * 65025 ? "#111" : "#fff";
  }

  function launcher() {
    var host = document.createElement("div");
    host.setAttribute("data-edge-chat", "");
    var root = host.attachShadow({ mode: "open" });
    root.innerHTML =
      "<style>:host{all:initial}:host([hidden]){display:none}.ec-fab{position:fixed;bottom:20px;right:20px;z-index:2147483000;width:56px;height:56px;border:0;border-radius:50%;background:var(--ec-accent,#4f46e5);color:#fff;cursor:pointer;box-shadow:0 4px 16px rgba(0,0,0,.25);display:grid;place-items:center;padding:0}" +
      ".ec-fab.left{right:auto;left:20px}.ec-fab:focus-visible{outline:3px solid #111;outline-offset:3px}.ec-fab svg{width:28px;height:28px;fill:currentColor;stroke:none}.ec-fab img{width:32px;height:32px;border-radius:50%}" +
      ".ec-fab .x{fill:none;stroke:currentColor;stroke-width:2.5;stroke-linecap:round}.ec-fab[aria-expanded=true]>:not(.x),.ec-fab[aria-expanded=false] .x{display:none}" +
      "@media (max-width:480px){.ec-fab[aria-expanded=true]{display:none}}</style>" +
      // The second icon (a cross) shows while the panel is open: the launcher is then its close button.
      '<button class="ec-fab" type="button" aria-label="Open chat" aria-expanded="false" aria-haspopup="dialog"><svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16v12H7l-3 3z"/></svg><svg class="x" viewBox="0 0 24 24" aria-hidden="true"><path d="M6 6l12 12M18 6 6 18"/></svg></button>';
    var button = root.querySelector("button");
    var settings = config();
    // Hidden until the config says this site may chat: on a refused site visitors see nothing.
    host.hidden = true;
    settings.then(function (c) {
      var b = c.branding || {};
      if (b.primaryColor && CSS.supports("color", b.primaryColor)) {
        button.style.setProperty("--ec-accent", b.primaryColor);
        button.style.color = contrast(b.primaryColor);
      }
      if (b.position === "bottom-left") button.classList.add("left");
      if (b.launcherIconUrl && /^https?:/.test(b.launcherIconUrl)) {
        var img = document.createElement("img");
        img.alt = "";
        img.src = b.launcherIconUrl;
        button.replaceChild(img, button.firstChild);
      }
      host.hidden = false;
    }, function (e) {
      if (e.code === "origin_not_allowed") {
        console.warn("Edge Agent Chat: the chat is hidden because " + location.origin + " is not in the agent's allowed origins. Add " + location.origin + " to them (dashboard: Agents, Where will this chat run?). Server: " + e.message);
      } else {
        host.hidden = false;
      }
    });
    button.onclick = function () { api.toggle(); };
    document.body.appendChild(host);
    (window.requestIdleCallback || setTimeout)(function () { loadPanel().catch(function () {}); });
    return function () {
      return widget || (widget = loadPanel().then(function (Panel) {
        return Panel.mount(root, { base: base, key: key, mode: "launcher", config: settings, launcher: button, emit: emit });
      }));
    };
  }

  var mounted = key ? launcher() : function () { return Promise.reject(new Error("No data-key on the widget script.")); };
  function forward(name) {
    return function (arg) {
      return mounted().then(function (w) { return w[name](arg); });
    };
  }
  var queued = Array.isArray(window.EdgeChat) ? window.EdgeChat : [];
  var api = (window.EdgeChat = {
    open: forward("open"),
    close: forward("close"),
    toggle: forward("toggle"),
    identify: forward("identify"),
    setContext: forward("setContext"),
    newConversation: forward("newConversation"),
    on: function (name, fn) { (listeners[name] = listeners[name] || []).push(fn); },
    off: function (name, fn) { listeners[name] = (listeners[name] || []).filter(function (f) { return f !== fn; }); },
  });
  // Calls made before the loader ran: window.EdgeChat = [["identify", {...}], ...].
  queued.forEach(function (call) { api[call[0]] && api[call[0]](call[1]); });

  if (window.customElements && !customElements.get("chat-widget")) {
    customElements.define("chat-widget", class extends HTMLElement {
      connectedCallback() {
        if (this.shadowRoot) return;
        var el = this;
        var root = el.attachShadow({ mode: "open" });
        loadPanel().then(function (Panel) {
          el.chat = Panel.mount(root, {
            base: base,
            key: el.getAttribute("key"),
            mode: "inline",
            emit: function (name, detail) { el.dispatchEvent(new CustomEvent(name, { detail: detail })); },
          });
        });
      }
    });
  }
})();
