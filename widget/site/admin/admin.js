// The tenant dashboard: plain JavaScript on the management API (/api/admin/…), same origin.
// The tenant secret key lives in sessionStorage only. Every piece of data from the API is set
// with textContent (never innerHTML).
(function () {
  "use strict";

  var KEY_STORE = "edgechat:admin:key";
  var state = { key: sessionStorage.getItem(KEY_STORE), tenant: null, agents: [] };
  var $ = function (id) { return document.getElementById(id); };
  var viewRoot = $("view");
  var statusEl = $("status");

  // ---- small DOM helpers --------------------------------------------------------------------

  /** h("tag.class", {attr: value, onclick: fn}, child, "text", …): builds an element. */
  function h(spec, attrs) {
    var parts = spec.split(".");
    var tag = parts[0].split("#");
    var node = document.createElement(tag[0]);
    if (tag[1]) node.id = tag[1];
    if (parts.length > 1) node.className = parts.slice(1).join(" ");
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value == null || value === false) return;
      if (name.slice(0, 2) === "on") node.addEventListener(name.slice(2), value);
      else if (name === "text") node.textContent = value;
      else if (name in node && typeof value !== "string") node[name] = value;
      else node.setAttribute(name, value === true ? "" : value);
    });
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }
  function append(node, child) {
    if (child == null || child === false) return;
    if (Array.isArray(child)) child.forEach(function (c) { append(node, c); });
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  var uid = 0;
  /** A labelled form field; returns {row, input}. */
  function field(label, input, hint) {
    input.id = input.id || "f" + ++uid;
    var hintEl = hint ? h("small.hint", { id: input.id + "-hint", text: hint }) : null;
    if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
    return { row: h("div.field", null, h("label", { for: input.id, text: label }), input, hintEl), input: input };
  }
  function say(message, kind) {
    statusEl.textContent = "";
    statusEl.className = "status" + (kind ? " " + kind : "");
    if (message) statusEl.append(h("span", { text: message }), h("button.link", { type: "button", "aria-label": "Dismiss message", text: "×", onclick: function () { say(""); } }));
  }
  var fail = function (e) { say(e.message || String(e), "error"); };
  var date = function (ms) { return ms ? new Date(ms).toLocaleString() : "–"; };
  var lines = function (text) { return text.split("\n").map(function (s) { return s.trim(); }).filter(Boolean); };
  var fmt = function (n, digits) { return Number(n || 0).toLocaleString(undefined, { maximumFractionDigits: digits == null ? 0 : digits }); };

  // ---- API ----------------------------------------------------------------------------------

  /** Calls the management API; resolves {body, res}, rejects with an Error carrying code/field/status. */
  async function api(method, path, body, headers) {
    var init = { method: method, headers: Object.assign({ authorization: "Bearer " + state.key }, headers || {}) };
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    var res;
    try {
      res = await fetch("/api/admin" + path, init);
    } catch (e) {
      throw new Error("The server could not be reached. Check your connection and try again.");
    }
    var data = res.status === 204 ? null : await res.json().catch(function () { return null; });
    if (!res.ok) {
      var err = (data && data.error) || {};
      var message = err.message || "The request failed (HTTP " + res.status + ").";
      if (err.field) message += " (field: " + err.field + ")";
      if (res.status === 401 && state.tenant && path !== "/tenant") {
        signOut("Your key was refused (" + message + "). Sign in again.");
        message = "Signed out: " + message;
      }
      var error = new Error(message);
      error.code = err.code;
      error.field = err.field;
      error.status = res.status;
      throw error;
    }
    return { body: data, res: res };
  }
  var q = function (params) {
    var s = new URLSearchParams();
    Object.keys(params).forEach(function (k) { if (params[k] != null && params[k] !== "") s.set(k, params[k]); });
    var text = s.toString();
    return text ? "?" + text : "";
  };

  // ---- sign in / out, routing ---------------------------------------------------------------

  async function signIn(key) {
    state.key = key;
    var r = await api("GET", "/tenant");
    state.tenant = r.body.tenant;
    sessionStorage.setItem(KEY_STORE, key);
    $("tenant-name").textContent = state.tenant.name || state.tenant.id;
    $("sign-in").hidden = true;
    $("nav").hidden = $("sign-out").hidden = viewRoot.hidden = false;
  }
  function signOut(message) {
    sessionStorage.removeItem(KEY_STORE);
    state = { key: null, tenant: null, agents: [] };
    $("tenant-name").textContent = "";
    $("nav").hidden = $("sign-out").hidden = viewRoot.hidden = true;
    viewRoot.textContent = "";
    $("sign-in").hidden = false;
    $("secret-key").value = "";
    say(message || "");
    $("secret-key").focus();
  }
  $("sign-in-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var key = $("secret-key").value.trim();
    say("Signing in…");
    signIn(key).then(function () {
      say("");
      $("secret-key").value = "";
      route();
    }, function (err) {
      state.key = null;
      say(err.status === 401 ? "That key was not accepted: " + err.message : err.message, "error");
    });
  });
  $("sign-out").addEventListener("click", function () { signOut("Signed out."); });

  var routes = {
    agents: showAgents, agent: showAgent, "new-agent": showNewAgent,
    conversations: showConversations, conversation: showConversation, feedback: showFeedback,
    usage: showUsage, keys: showKeys,
  };
  function route() {
    if (!state.tenant) return;
    var hash = decodeURIComponent(location.hash.slice(1)) || "agents";
    var name = hash.split("/")[0];
    var arg = hash.slice(name.length + 1);
    if (!routes[name]) name = "agents";
    var section = name === "agent" || name === "new-agent" ? "agents" : name === "conversation" || name === "feedback" ? "conversations" : name;
    document.querySelectorAll("#nav a").forEach(function (a) {
      if (a.dataset.view === section) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
    unmountPreview();
    // A fresh container per route: a slow answer for a view the user left lands nowhere.
    var container = h("div");
    viewRoot.replaceChildren(container);
    Promise.resolve(routes[name](arg, container)).catch(function (e) { if (container.isConnected) fail(e); });
  }
  var keepStatus = false;
  var focusHeading = false;
  window.addEventListener("hashchange", function () {
    if (!keepStatus) say("");
    keepStatus = false;
    focusHeading = true;
    route();
  });
  /** Navigates after an action, keeping its message on screen. */
  function go(hash) {
    if (location.hash === "#" + hash) return route();
    keepStatus = true;
    location.hash = hash;
  }
  function heading(view, text, extra) {
    var h1 = h("h1", { text: text, tabindex: "-1" });
    view.append(h("div.bar", null, h1, extra));
    // After a navigation, focus moves to the new view's heading (screen readers announce it).
    if (focusHeading) {
      focusHeading = false;
      h1.focus();
    }
    return h1;
  }

  // ---- agents -------------------------------------------------------------------------------

  async function loadAgents() {
    var all = [];
    var cursor = null;
    do {
      var r = await api("GET", "/agents" + q({ limit: 200, cursor: cursor }));
      all = all.concat(r.body.agents);
      cursor = r.body.nextCursor;
    } while (cursor);
    state.agents = all;
    return all;
  }

  async function showAgents(_, view) {
    heading(view, "Agents", h("a.button", { href: "#new-agent", text: "New agent" }));
    var agents = await loadAgents();
    if (!agents.length) {
      view.append(h("p.muted", { text: "No agents yet. Create one to get an embed snippet." }));
      return;
    }
    var table = h("table", null, h("caption.sr", { text: "Your agents" }),
      h("thead", null, h("tr", null, ["Name", "Id", "Model", "Status", "Updated"].map(function (t) { return h("th", { scope: "col", text: t }); }))));
    var body = h("tbody");
    agents.forEach(function (a) {
      body.append(h("tr", null,
        h("td", null, h("a", { href: "#agent/" + encodeURIComponent(a.id), text: a.config.name || a.id })),
        h("td", null, h("code", { text: a.id })),
        h("td", { text: a.config.model }),
        h("td", { text: a.enabled ? "enabled" : "disabled" }),
        h("td", { text: date(a.updatedAt) })));
    });
    table.append(body);
    view.append(h("div.scroll", null, table));
  }

  function showNewAgent(_, view) {
    heading(view, "New agent");
    var id = field("Id (optional)", h("input", { name: "id", pattern: "[A-Za-z0-9_-]+", autocomplete: "off" }), "Letters, digits, _ and -. Left empty, one is generated.");
    var editor = agentForm({ config: { name: "Assistant", model: "openai/gpt-4o-mini", limits: {}, branding: {}, tools: {} }, publishableKeys: [] }, true);
    editor.form.prepend(id.row);
    editor.form.addEventListener("submit", function (e) {
      e.preventDefault();
      var config;
      try { config = stripNulls(editor.read()); } catch (err) { return fail(err); }
      var body = { config: config, enabled: editor.enabled.checked };
      if (id.input.value.trim()) body.id = id.input.value.trim();
      api("POST", "/agents", body).then(function (r) {
        say("Agent “" + r.body.agent.config.name + "” created.", "ok");
        go("agent/" + r.body.agent.id);
      }, fail);
    });
    view.append(editor.root);
  }

  async function showAgent(id, view) {
    var r = await api("GET", "/agents/" + encodeURIComponent(id));
    var agent = r.body.agent;
    var etag = r.res.headers.get("etag");
    heading(view, agent.config.name || agent.id, h("div.actions", null,
      h("button.secondary", { type: "button", text: "Duplicate", onclick: function () {
        api("POST", "/agents/" + encodeURIComponent(agent.id) + "/duplicate", {}).then(function (d) {
          say("Duplicated as “" + d.body.agent.config.name + "”.", "ok");
          go("agent/" + d.body.agent.id);
        }, fail);
      } }),
      h("button.danger", { type: "button", text: "Delete", onclick: function () {
        if (!confirm("Delete the agent “" + (agent.config.name || agent.id) + "”? Its conversations and keys are deleted too.")) return;
        api("DELETE", "/agents/" + encodeURIComponent(agent.id)).then(function () {
          say("Agent deleted.", "ok");
          go("agents");
        }, fail);
      } })));

    var pk = agent.publishableKeys && agent.publishableKeys[0];
    var snippet = pk ? '<script src="' + location.origin + '/widget.js" data-key="' + pk + '" async></script>' : "";
    var code = h("code#embed-snippet", { text: snippet || "This agent has no publishable key. Create one under Keys." });
    if (pk) code.dataset.key = pk;
    view.append(h("section.card", { "aria-labelledby": "embed-title" },
      h("h2#embed-title", { text: "Embed snippet" }),
      h("p.muted", { text: "Paste before </body> on a site listed in the allowed origins." }),
      h("pre.snippet", null, code),
      pk ? h("button.secondary", { type: "button", text: "Copy snippet", onclick: function () {
        navigator.clipboard.writeText(snippet).then(function () { say("Snippet copied.", "ok"); }, function () { say("Copying failed: select the snippet and copy it by hand.", "error"); });
      } }) : null));

    var editor = agentForm(agent, false);
    var reload = h("button.secondary", { type: "button", hidden: true, text: "Load the latest version (discards your edits)", onclick: function () {
      if (confirm("Discard your edits and load the latest saved version?")) route();
    } });
    editor.save.after(reload);
    editor.form.append(h("p.meta", { text: "Last saved " + date(agent.updatedAt) }));
    editor.form.addEventListener("submit", function (e) {
      e.preventDefault();
      var config;
      try { config = editor.read(); } catch (err) { return fail(err); }
      editor.save.disabled = true;
      api("PATCH", "/agents/" + encodeURIComponent(agent.id), { config: config, enabled: editor.enabled.checked }, { "if-match": etag })
        .then(function (s) {
          etag = s.res.headers.get("etag") || etag;
          editor.reset(s.body.agent);
          reload.hidden = true;
          say("Saved.", "ok");
        }, function (err) {
          // The form keeps every edit; only the message changes.
          if (err.code === "stale") {
            say(err.message + " Your edits are still in the form.", "error");
            reload.hidden = false;
          } else fail(err);
        })
        .finally(function () { editor.save.disabled = false; });
    });
    view.append(h("div.editor", null, editor.root, preview(agent, editor)));
  }

  function stripNulls(value) {
    if (Array.isArray(value)) return value.map(stripNulls);
    if (value && typeof value === "object") {
      var out = {};
      Object.keys(value).forEach(function (k) { if (value[k] !== null) out[k] = stripNulls(value[k]); });
      return out;
    }
    return value;
  }

  /** The agent editor. read() returns the full config (null clears a field: merge patch). */
  function agentForm(agent, creating) {
    var base = JSON.parse(JSON.stringify(agent.config || {}));
    var c = base;
    var b = c.branding || {};
    var l = c.limits || {};
    var text = function (v) { return v == null ? "" : String(v); };
    var input = function (name, value, extra) { return h("input", Object.assign({ name: name, value: text(value), autocomplete: "off" }, extra || {})); };
    var area = function (name, value, rows) { var t = h("textarea", { name: name, rows: String(rows || 3) }); t.value = text(value); return t; };
    var select = function (name, value, options) {
      var s = h("select", { name: name }, options.map(function (o) { return h("option", { value: o[0], text: o[1] }); }));
      s.value = value || "";
      return s;
    };
    var f = {
      name: field("Name", input("name", c.name, { required: true, maxlength: "100" })),
      systemPrompt: field("System prompt", area("systemPrompt", c.systemPrompt, 5)),
      model: field("Model", input("model", c.model, { required: true })),
      models: field("Fallback models", area("models", (c.models || []).join("\n"), 2), "One per line, tried in order."),
      temperature: field("Temperature", input("temperature", c.temperature, { type: "number", step: "0.1", min: "0", max: "2" }), "Empty: the provider's default."),
      allowedOrigins: field("Allowed origins", area("allowedOrigins", (c.allowedOrigins || []).join("\n"), 2), "One per line, e.g. https://www.example.com or https://*.example.com."),
      visitorPerMinute: field("Messages per visitor per minute", input("visitorPerMinute", l.visitorPerMinute, { type: "number", min: "1" })),
      ipPerMinute: field("Messages per IP per minute", input("ipPerMinute", l.ipPerMinute, { type: "number", min: "1" })),
      maxMessageChars: field("Longest message (characters)", input("maxMessageChars", l.maxMessageChars, { type: "number", min: "1" })),
      monthlySpendCap: field("Monthly spend cap (USD)", input("monthlySpendCap", l.monthlySpendCap, { type: "number", min: "0", step: "0.01" }), "Empty: no cap."),
      title: field("Title", input("title", b.title)),
      primaryColor: field("Primary colour", input("primaryColor", b.primaryColor, { placeholder: "#4f46e5" })),
      theme: field("Theme", select("theme", b.theme, [["", "Default (auto)"], ["auto", "Auto"], ["light", "Light"], ["dark", "Dark"]])),
      position: field("Position", select("position", b.position, [["", "Default (bottom right)"], ["bottom-right", "Bottom right"], ["bottom-left", "Bottom left"]])),
      welcomeMessage: field("Welcome message", area("welcomeMessage", c.welcomeMessage, 2)),
      starterPrompts: field("Starter prompts", area("starterPrompts", (c.starterPrompts || []).join("\n"), 3), "One per line."),
      placeholder: field("Input placeholder", input("placeholder", b.placeholder)),
    };
    var enabled = h("input", { type: "checkbox", name: "enabled", id: "f" + ++uid });
    enabled.checked = agent.enabled !== false;
    var tools = h("div.tools");
    (c.tools && c.tools.webhooks || []).forEach(function (t) { tools.append(toolEditor(t, agent.id, creating)); });
    var save = h("button", { type: "submit", text: creating ? "Create agent" : "Save changes" });
    var form = h("form.card.agent-form", { novalidate: true },
      h("fieldset", null, h("legend", { text: "Agent" }), f.name.row, f.systemPrompt.row, f.model.row, f.models.row, f.temperature.row,
        h("div.check", null, enabled, h("label", { for: enabled.id, text: "Enabled (widgets can chat)" }))),
      h("fieldset", null, h("legend", { text: "Where it runs" }), f.allowedOrigins.row),
      h("fieldset.grid2", null, h("legend", { text: "Limits" }), f.visitorPerMinute.row, f.ipPerMinute.row, f.maxMessageChars.row, f.monthlySpendCap.row),
      h("fieldset.branding", null, h("legend", { text: "Branding" }), f.title.row, f.primaryColor.row, f.theme.row, f.position.row, f.welcomeMessage.row, f.starterPrompts.row, f.placeholder.row),
      h("fieldset", null, h("legend", { text: "Webhook tools" }), tools,
        h("button.secondary", { type: "button", text: "Add tool", onclick: function () {
          var ed = toolEditor({ name: "", description: "", url: "https://", method: "POST", parameters: { type: "object", properties: {} }, headers: {} }, agent.id, creating);
          tools.append(ed);
          ed.querySelector("input").focus();
        } })),
      h("div.actions", null, save));

    function num(input) {
      var v = input.value.trim();
      if (v === "") return null;
      var n = Number(v);
      if (!isFinite(n)) throw new Error("“" + input.labels[0].textContent + "” must be a number.");
      return n;
    }
    var str = function (input) { return input.value.trim() === "" ? null : input.value; };
    function read() {
      var out = JSON.parse(JSON.stringify(base));
      out.name = f.name.input.value.trim();
      out.systemPrompt = f.systemPrompt.input.value;
      out.model = f.model.input.value.trim();
      out.models = lines(f.models.input.value);
      out.temperature = num(f.temperature.input);
      out.allowedOrigins = lines(f.allowedOrigins.input.value);
      out.limits = Object.assign({}, base.limits, {
        visitorPerMinute: num(f.visitorPerMinute.input), ipPerMinute: num(f.ipPerMinute.input),
        maxMessageChars: num(f.maxMessageChars.input), monthlySpendCap: num(f.monthlySpendCap.input),
      });
      out.branding = Object.assign({}, base.branding, readBranding());
      out.welcomeMessage = str(f.welcomeMessage.input);
      out.starterPrompts = lines(f.starterPrompts.input.value);
      out.tools = Object.assign({}, base.tools, { webhooks: Array.prototype.map.call(tools.children, function (ed) { return ed.read(); }) });
      return out;
    }
    function readBranding() {
      return { title: str(f.title.input), primaryColor: str(f.primaryColor.input), theme: str(f.theme.input), position: str(f.position.input), placeholder: str(f.placeholder.input) };
    }
    function reset(saved) {
      base = JSON.parse(JSON.stringify(saved.config));
    }
    var brandingInputs = [f.name, f.title, f.primaryColor, f.theme, f.position, f.welcomeMessage, f.starterPrompts, f.placeholder].map(function (x) { return x.input; });
    return {
      root: form, form: form, read: read, reset: reset, save: save, enabled: enabled, brandingInputs: brandingInputs,
      publicConfig: function () {
        return {
          agentId: agent.id, name: f.name.input.value.trim() || "Assistant", branding: stripNulls(Object.assign({}, base.branding, readBranding())),
          welcomeMessage: str(f.welcomeMessage.input), starterPrompts: lines(f.starterPrompts.input.value),
          locale: base.locale || null, maxMessageChars: 4000, sendPageContext: true,
        };
      },
    };
  }

  /** One webhook tool: fields, a test call, remove. The element has read(). */
  function toolEditor(tool, agentId, creating) {
    var json = function (v) { return JSON.stringify(v == null ? {} : v, null, 2); };
    var name = field("Tool name", h("input", { value: tool.name || "", autocomplete: "off", pattern: "[A-Za-z0-9_-]+" }));
    var description = field("Description", h("input", { value: tool.description || "", autocomplete: "off" }));
    var url = field("URL", h("input", { value: tool.url || "", type: "url", autocomplete: "off" }));
    var method = field("Method", h("select", null, ["POST", "GET", "PUT", "PATCH", "DELETE"].map(function (m) { return h("option", { text: m }); })));
    method.input.value = (tool.method || "POST").toUpperCase();
    var params = field("Parameters (JSON Schema)", h("textarea.mono", { rows: "4" }));
    params.input.value = json(tool.parameters || { type: "object", properties: {} });
    var headers = field("Headers (JSON)", h("textarea.mono", { rows: "2" }), "Stored values show as ********; leave them to keep them.");
    headers.input.value = json(tool.headers || {});
    var input = field("Test input (JSON)", h("textarea.mono", { rows: "2" }));
    input.input.value = "{}";
    var result = h("output.result", { "aria-live": "polite" });
    function parse(f) {
      try { return JSON.parse(f.input.value || "{}"); } catch (e) {
        throw new Error("“" + f.input.labels[0].textContent + "” of tool “" + (name.input.value || "new tool") + "” is not valid JSON.");
      }
    }
    var root = h("fieldset.tool", null, h("legend", { text: tool.name ? "Tool " + tool.name : "New tool" }),
      h("div.grid2", null, name.row, method.row), description.row, url.row, params.row, headers.row,
      h("div.test", null, input.row,
        h("div.actions", null,
          h("button.secondary", { type: "button", text: "Test call", disabled: creating, title: creating ? "Create the agent first" : null, onclick: function () {
            var body;
            try { body = { input: parse(input), tool: root.read() }; } catch (e) { return fail(e); }
            result.className = "result";
            result.textContent = "Calling…";
            var toolName = body.tool.name || "tool";
            api("POST", "/agents/" + encodeURIComponent(agentId) + "/tools/" + encodeURIComponent(toolName) + "/test", body).then(function (r) {
              var d = r.body;
              result.className = "result " + (d.ok ? "ok" : "error");
              result.textContent = (d.ok ? "OK" : "Failed") + " in " + d.ms + " ms: " + (d.ok ? (typeof d.output === "string" ? d.output : JSON.stringify(d.output, null, 2)) : d.error);
            }, function (e) {
              result.className = "result error";
              result.textContent = e.message;
            });
          } }),
          h("button.danger", { type: "button", text: "Remove tool", onclick: function () {
            var fs = root.parentNode;
            root.remove();
            say("Tool removed. Save to apply.");
            var next = fs && fs.parentNode && fs.parentNode.querySelector("button");
            if (next) next.focus();
          } }))),
      result);
    root.read = function () {
      var t = { name: name.input.value.trim(), description: description.input.value, url: url.input.value.trim(), method: method.input.value, parameters: parse(params), headers: parse(headers) };
      if (tool.timeoutMs != null) t.timeoutMs = tool.timeoutMs;
      return t;
    };
    return root;
  }

  // ---- live preview -------------------------------------------------------------------------

  var panelScript = null;
  var previewTimer = null;
  var previewBox = null;
  function loadPanel() {
    if (window.EdgeChatPanel) return Promise.resolve();
    if (!panelScript) {
      panelScript = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = "/chat-panel.js";
        s.onload = resolve;
        s.onerror = function () { panelScript = null; reject(new Error("The widget preview could not be loaded.")); };
        document.head.append(s);
      });
    }
    return panelScript;
  }
  function unmountPreview() {
    clearTimeout(previewTimer);
    previewBox = null;
  }
  function preview(agent, editor) {
    var box = h("div.preview-host");
    previewBox = box;
    var key = agent.publishableKeys && agent.publishableKeys[0];
    var section = h("section.card.preview", { "aria-labelledby": "preview-title" },
      h("h2#preview-title", { text: "Preview" }),
      h("p.muted", { text: "Unsaved branding, live. Chatting here works only if this dashboard's origin is allowed." }), box);
    function render() {
      if (previewBox !== box || !key) return;
      loadPanel().then(function () {
        if (previewBox !== box) return;
        var host = h("div.preview-panel");
        box.replaceChildren(host);
        window.EdgeChatPanel.mount(host.attachShadow({ mode: "open" }), { base: location.origin, key: key, mode: "inline", config: Promise.resolve(editor.publicConfig()) });
      }, fail);
    }
    var schedule = function () { clearTimeout(previewTimer); previewTimer = setTimeout(render, 300); };
    editor.brandingInputs.forEach(function (i) { i.addEventListener("input", schedule); i.addEventListener("change", schedule); });
    if (key) render();
    else box.append(h("p.muted", { text: "No publishable key: no preview." }));
    return section;
  }

  // ---- conversations and feedback -----------------------------------------------------------

  async function showConversations(_, view) {
    heading(view, "Conversations", h("a.button.secondary", { href: "#feedback", text: "Feedback" }));
    if (!state.agents.length) await loadAgents().catch(function () {});
    var search = field("Search messages", h("input", { type: "search", name: "q", autocomplete: "off" }));
    var agentSel = field("Agent", h("select", { name: "agentId" }, h("option", { value: "", text: "All agents" }),
      state.agents.map(function (a) { return h("option", { value: a.id, text: a.config.name + " (" + a.id + ")" }); })));
    var form = h("form.filters", { role: "search" }, search.row, agentSel.row, h("button", { type: "submit", text: "Search" }));
    var list = h("ul.list", { "aria-label": "Conversations" });
    var more = h("button.secondary", { type: "button", text: "Load more", hidden: true });
    var count = h("p.muted", { "aria-live": "polite" });
    var cursor = null;
    var seq = 0;
    async function load(reset) {
      var mine = ++seq;
      var r = await api("GET", "/conversations" + q({ q: search.input.value.trim(), agentId: agentSel.input.value, limit: 25, cursor: reset ? null : cursor }));
      if (mine !== seq) return; // a newer search answered (or will answer) instead
      if (reset) list.textContent = "";
      r.body.conversations.forEach(function (c) {
        list.append(h("li", null,
          h("a", { href: "#conversation/" + encodeURIComponent(c.id) }, h("code", { text: c.id })),
          h("span.muted", { text: " · " + c.agentId + " · visitor " + c.visitorId + " · " + date(c.updatedAt) })));
      });
      cursor = r.body.nextCursor;
      more.hidden = !cursor;
      count.textContent = list.children.length ? list.children.length + " conversation" + (list.children.length === 1 ? "" : "s") + " shown." : "No conversations found.";
    }
    form.addEventListener("submit", function (e) { e.preventDefault(); load(true).catch(fail); });
    more.addEventListener("click", function () { load(false).catch(fail); });
    view.append(form, count, list, more);
    await load(true);
  }

  async function showConversation(id, view) {
    var r = await api("GET", "/conversations/" + encodeURIComponent(id));
    var c = r.body.conversation;
    heading(view, "Conversation", h("div.actions", null,
      h("a.button.secondary", { href: "#conversations", text: "Back to inbox" }),
      h("button.danger", { type: "button", text: "Delete", onclick: function () {
        if (!confirm("Delete this conversation? This cannot be undone.")) return;
        api("DELETE", "/conversations/" + encodeURIComponent(c.id)).then(function () { say("Conversation deleted.", "ok"); go("conversations"); }, fail);
      } })));
    view.append(h("p.muted", { text: c.id + " · agent " + c.agentId + (c.visitorId ? " · visitor " + c.visitorId : "") }));
    var log = h("ol.transcript", { "aria-label": "Transcript" });
    (c.messages || []).forEach(function (m) {
      var meta = m.metadata || {};
      var item = h("li.msg." + (m.role === "user" ? "user" : "assistant"), null, h("div.who", { text: m.role === "user" ? "Visitor" : "Assistant" }));
      (m.parts || []).forEach(function (p) {
        if (p.type === "text") item.append(h("div.text", { text: p.text }));
        else if (p.type && p.type.indexOf("tool-") === 0) {
          var tool = h("details.toolcall", null, h("summary", { text: "Tool " + p.type.slice(5) + (p.errorText ? " (failed)" : "") }),
            h("div", { text: "Input:" }), h("pre", { text: JSON.stringify(p.input, null, 2) || "" }));
          if (p.errorText) tool.append(h("div", { text: "Error:" }), h("pre", { text: p.errorText }));
          else tool.append(h("div", { text: "Output:" }), h("pre", { text: JSON.stringify(p.output, null, 2) || "" }));
          item.append(tool);
        } else if (p.type === "source-url") item.append(h("div.muted", { text: "Source: " + (p.title ? p.title + " – " : "") + p.url }));
      });
      var bits = [date(meta.createdAt)];
      if (meta.model) bits.push(meta.model);
      if (meta.status && meta.status !== "complete") bits.push(meta.status + (meta.error ? ": " + meta.error : ""));
      item.append(h("div.meta", { text: bits.join(" · ") }));
      if (meta.feedback) item.append(h("div.feedback." + meta.feedback, { text: meta.feedback === "up" ? "👍 Rated helpful (up)" : "👎 Rated not helpful (down)" }));
      log.append(item);
    });
    if (!log.children.length) view.append(h("p.muted", { text: "No messages." }));
    view.append(log);
  }

  async function showFeedback(_, view) {
    heading(view, "Feedback", h("a.button.secondary", { href: "#conversations", text: "Back to inbox" }));
    var list = h("ul.list.feedback-list", { "aria-label": "Rated answers" });
    var more = h("button.secondary", { type: "button", text: "Load more", hidden: true });
    var cursor = null;
    async function load() {
      var r = await api("GET", "/feedback" + q({ limit: 25, cursor: cursor }));
      r.body.feedback.forEach(function (f) {
        list.append(h("li", null,
          h("div", null, h("strong.feedback." + f.rating, { text: f.rating === "up" ? "👍 up" : "👎 down" }), h("span.muted", { text: " · " + f.agentId + " · " + date(f.feedbackAt) + " · " }),
            h("a", { href: "#conversation/" + encodeURIComponent(f.conversationId), text: "Open conversation" })),
          h("div", null, h("span.muted", { text: "Q: " }), f.question || "–"),
          h("div", null, h("span.muted", { text: "A: " }), f.answer || "–")));
      });
      cursor = r.body.nextCursor;
      more.hidden = !cursor;
      if (!list.children.length) list.append(h("li.muted", { text: "No rated answers yet." }));
    }
    more.addEventListener("click", function () { load().catch(fail); });
    view.append(list, more);
    await load();
  }

  // ---- usage --------------------------------------------------------------------------------

  async function showUsage(_, view) {
    heading(view, "Usage");
    var start = new Date(Date.now() - 29 * 86400000).toISOString().slice(0, 10);
    var since = field("Since", h("input", { type: "date", name: "since", value: start }));
    var form = h("form.filters", null, since.row, h("button", { type: "submit", text: "Show" }));
    var out = h("div");
    view.append(form, out);
    async function load() {
      var r = await api("GET", "/usage" + q({ since: since.input.value }));
      var rows = r.body.usage || [];
      out.textContent = "";
      var total = { messages: 0, tokens: 0, cost: 0 };
      var days = {};
      var agents = {};
      rows.forEach(function (u) {
        var tokens = (u.inputTokens || 0) + (u.outputTokens || 0);
        total.messages += u.messages || 0;
        total.tokens += tokens;
        total.cost += u.cost || 0;
        var d = days[u.day] || (days[u.day] = { messages: 0, tokens: 0, cost: 0 });
        d.messages += u.messages || 0; d.tokens += tokens; d.cost += u.cost || 0;
        var a = agents[u.agentId] || (agents[u.agentId] = { messages: 0, inputTokens: 0, outputTokens: 0, cost: 0 });
        a.messages += u.messages || 0; a.inputTokens += u.inputTokens || 0; a.outputTokens += u.outputTokens || 0; a.cost += u.cost || 0;
      });
      out.append(h("dl.totals", null,
        h("div", null, h("dt", { text: "Messages" }), h("dd#total-messages", { text: fmt(total.messages) })),
        h("div", null, h("dt", { text: "Tokens" }), h("dd", { text: fmt(total.tokens) })),
        h("div", null, h("dt", { text: "Cost (USD)" }), h("dd", { text: "$" + fmt(total.cost, 4) }))));
      var dayList = Object.keys(days).sort();
      // Days without usage between the first and the last still get a (zero) bar.
      if (dayList.length > 1) {
        for (var t = Date.parse(dayList[0] + "T00:00:00Z"), end = Date.parse(dayList[dayList.length - 1] + "T00:00:00Z"); t < end; t += 86400000) {
          var day = new Date(t).toISOString().slice(0, 10);
          if (!days[day]) days[day] = { messages: 0, tokens: 0, cost: 0 };
        }
        dayList = Object.keys(days).sort();
      }
      if (!dayList.length) {
        out.append(h("p.muted", { text: "No usage since " + r.body.since + "." }));
        return;
      }
      out.append(h("div.charts", null,
        chart("Messages per day", dayList, days, "messages", function (v) { return fmt(v); }),
        chart("Tokens per day", dayList, days, "tokens", function (v) { return fmt(v); }),
        chart("Cost per day (USD)", dayList, days, "cost", function (v) { return "$" + fmt(v, 4); })));
      var table = h("table", null, h("caption", { text: "Per agent since " + r.body.since }),
        h("thead", null, h("tr", null, ["Agent", "Messages", "Input tokens", "Output tokens", "Cost (USD)"].map(function (t) { return h("th", { scope: "col", text: t }); }))));
      var body = h("tbody");
      Object.keys(agents).sort().forEach(function (id) {
        var a = agents[id];
        body.append(h("tr", null, h("th", { scope: "row", text: id }), h("td", { text: fmt(a.messages) }), h("td", { text: fmt(a.inputTokens) }), h("td", { text: fmt(a.outputTokens) }), h("td", { text: "$" + fmt(a.cost, 4) })));
      });
      table.append(body);
      out.append(h("div.scroll", null, table));
    }
    form.addEventListener("submit", function (e) { e.preventDefault(); load().catch(fail); });
    await load();
  }

  /** An inline SVG bar chart of days[day][metric], with a text alternative. */
  function chart(title, dayList, days, metric, label) {
    var NS = "http://www.w3.org/2000/svg";
    var W = 320, H = 120, pad = 16;
    var max = Math.max.apply(null, dayList.map(function (d) { return days[d][metric]; }).concat([0])) || 1;
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + (H + pad));
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", title + ": " + dayList.map(function (d) { return d + " " + label(days[d][metric]); }).join(", "));
    var bw = Math.max(2, Math.min(40, (W / dayList.length) - 2));
    dayList.forEach(function (d, i) {
      var v = days[d][metric];
      var bh = Math.max(v > 0 ? 2 : 0, (v / max) * (H - 4));
      var rect = document.createElementNS(NS, "rect");
      rect.setAttribute("x", String(i * (bw + 2)));
      rect.setAttribute("y", String(H - bh));
      rect.setAttribute("width", String(bw));
      rect.setAttribute("height", String(bh));
      var tip = document.createElementNS(NS, "title");
      tip.textContent = d + ": " + label(v);
      rect.append(tip);
      svg.append(rect);
    });
    var axis = document.createElementNS(NS, "text");
    axis.setAttribute("x", "0");
    axis.setAttribute("y", String(H + pad - 2));
    axis.textContent = dayList[0] + (dayList.length > 1 ? " → " + dayList[dayList.length - 1] : "") + " · max " + label(max);
    svg.append(axis);
    return h("figure.chart", null, svg, h("figcaption", { text: title }));
  }

  // ---- keys ---------------------------------------------------------------------------------

  async function showKeys(_, view) {
    heading(view, "Keys");
    if (!state.agents.length) await loadAgents().catch(function () {});
    var kind = field("Kind", h("select", { name: "kind" }, h("option", { value: "publishable", text: "Publishable (for web pages)" }), h("option", { value: "secret", text: "Secret (for servers and this dashboard)" })));
    var agentSel = field("Agent (publishable keys)", h("select", { name: "agentId" }, state.agents.map(function (a) { return h("option", { value: a.id, text: a.config.name + " (" + a.id + ")" }); })));
    var name = field("Name", h("input", { name: "name", autocomplete: "off", placeholder: "e.g. CI, marketing site" }));
    var sync = function () { agentSel.row.hidden = kind.input.value !== "publishable"; };
    kind.input.addEventListener("change", sync);
    sync();
    var shown = h("div");
    var form = h("form.card.filters", null, h("h2", { text: "Create a key" }), kind.row, agentSel.row, name.row, h("button", { type: "submit", text: "Create key" }));
    var list = h("div");
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = { kind: kind.input.value, name: name.input.value.trim() || undefined };
      if (body.kind === "publishable") body.agentId = agentSel.input.value;
      api("POST", "/keys", body).then(function (r) {
        shown.replaceChildren(h("div.card.warn", { role: "alert" },
          h("strong", { text: "Copy this key now: it will not be shown again." }),
          h("pre.snippet", null, h("code#new-key", { text: r.body.value })),
          h("button.secondary", { type: "button", text: "Copy key", onclick: function () { navigator.clipboard.writeText(r.body.value).then(function () { say("Key copied.", "ok"); }, fail); } })));
        name.input.value = "";
        return load();
      }).catch(fail);
    });
    async function load() {
      var all = [];
      var cursor = null;
      do {
        var r = await api("GET", "/keys" + q({ limit: 200, cursor: cursor }));
        all = all.concat(r.body.keys);
        cursor = r.body.nextCursor;
      } while (cursor);
      var table = h("table", null, h("caption.sr", { text: "Keys" }),
        h("thead", null, h("tr", null, ["Name", "Kind", "Agent", "Key", "Created", "Status", ""].map(function (t) { return h("th", { scope: "col", text: t || null }, t ? null : h("span.sr", { text: "Actions" })); }))));
      var body = h("tbody");
      all.forEach(function (k) {
        body.append(h("tr", null, h("td", { text: k.name || "–" }), h("td", { text: k.kind }), h("td", { text: k.agentId || "–" }),
          h("td", null, h("code", { text: k.key })), h("td", { text: date(k.createdAt) }), h("td", { text: k.revokedAt ? "revoked " + date(k.revokedAt) : "active" }),
          h("td", null, k.revokedAt ? null : h("button.danger", { type: "button", text: "Revoke", "aria-label": "Revoke key " + (k.name || k.key), onclick: function () {
            if (!confirm("Revoke the key “" + (k.name || k.key) + "”? Anything using it stops working at once.")) return;
            api("DELETE", "/keys/" + encodeURIComponent(k.id)).then(function () { say("Key revoked.", "ok"); return load(); }).catch(fail);
          } }))));
      });
      table.append(body);
      list.replaceChildren(h("div.scroll", null, table));
    }
    view.append(form, shown, list);
    await load();
  }

  // ---- start --------------------------------------------------------------------------------

  if (state.key) {
    signIn(state.key).then(route, function (e) { signOut(e.status === 401 ? "Your key is no longer valid. Sign in again." : e.message); });
  } else {
    signOut("");
  }
})();
