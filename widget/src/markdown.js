// A small Markdown subset rendered by building DOM nodes. Model and user text only ever become
// text nodes: nothing here assigns innerHTML, so markup in an answer stays inert text.
// Blocks: paragraphs, headings, bullet and numbered lists, fenced code. Inline: **strong**,
// *emphasis*, `code`, [links](https://…) and bare http(s) URLs.

// No lookbehind (Safari < 16.4 cannot even parse a script that has one): "no word character
// before `_`" is checked in `inline` instead.
var INLINE = /(`+)([\s\S]*?[^`])\1(?!`)|\*\*([\s\S]+?)\*\*|__([\s\S]+?)__(?!\w)|\*([^*\s](?:[^*]*[^*\s])?)\*|_([^_\s](?:[^_]*[^_\s])?)_(?!\w)|\[([^\]\n]+)\]\(\s*<?([^)\s>]+)>?\s*\)|(https?:\/\/[^\s<>()]*[^\s<>().,;:!?'"\]])/;

/** The URL if it may be a link target (http, https or mailto), else null. */
export function safeUrl(url) {
  try {
    var parsed = new URL(url);
    return /^(https?|mailto):$/.test(parsed.protocol) ? parsed.href : null;
  } catch (e) {
    return null;
  }
}

function el(tag, className) {
  var node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

/** A link element, or plain text when the URL is not allowed. */
export function link(url, text) {
  var href = safeUrl(url);
  if (!href) return document.createTextNode(text);
  var a = el("a");
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  a.textContent = text;
  return a;
}

/** Appends the inline content of `text` to `parent`. */
function inline(text, parent) {
  var before = "";
  while (text) {
    var m = INLINE.exec(text);
    if (!m) {
      parent.appendChild(document.createTextNode(text));
      return;
    }
    var prev = m.index ? text[m.index - 1] : before;
    if ((m[4] || m[6]) && /\w/.test(prev)) {
      // snake_case_words: an underscore inside a word is text, not emphasis.
      parent.appendChild(document.createTextNode(text.slice(0, m.index + 1)));
      before = text[m.index];
      text = text.slice(m.index + 1);
      continue;
    }
    if (m.index) parent.appendChild(document.createTextNode(text.slice(0, m.index)));
    var node;
    if (m[1]) {
      node = el("code");
      node.textContent = m[2];
    } else if (m[3] || m[4]) {
      node = el("strong");
      inline(m[3] || m[4], node);
    } else if (m[5] || m[6]) {
      node = el("em");
      inline(m[5] || m[6], node);
    } else if (m[7]) {
      node = link(m[8], m[7]);
    } else {
      node = link(m[9], m[9]);
    }
    parent.appendChild(node);
    before = m[0].slice(-1);
    text = text.slice(m.index + m[0].length);
  }
}

/** Renders `text` into a new DocumentFragment. */
export function render(text) {
  var out = document.createDocumentFragment();
  var lines = String(text).replace(/\r\n?/g, "\n").split("\n");
  var para = null;
  var list = null;
  for (var i = 0; i < lines.length; i++) {
    var line = lines[i];
    var fence = /^\s*(```|~~~)\s*([\w+-]*)\s*$/.exec(line);
    if (fence) {
      var code = [];
      for (i++; i < lines.length && lines[i].trim() !== fence[1]; i++) code.push(lines[i]);
      var pre = el("pre");
      var c = el("code");
      if (fence[2]) c.setAttribute("data-lang", fence[2]);
      c.textContent = code.join("\n");
      pre.appendChild(c);
      out.appendChild(pre);
      para = list = null;
      continue;
    }
    var heading = /^(#{1,6})\s+(.*)$/.exec(line);
    var item = /^\s*(?:([-*+])|(\d{1,9})[.)])\s+(.*)$/.exec(line);
    if (!line.trim()) {
      para = list = null;
    } else if (/^\s*(?:[-*+]|\d{1,9}[.)])\s*$/.test(line)) {
      // A list marker with nothing after it yet (mid-stream, or left by Stop) draws no bullet.
      continue;
    } else if (heading) {
      // Chat headings stay small: # becomes h3, ## h4, the rest h5/h6.
      var h = el("h" + Math.min(6, heading[1].length + 2));
      inline(heading[2], h);
      out.appendChild(h);
      para = list = null;
    } else if (item) {
      var tag = item[1] ? "ul" : "ol";
      if (!list || list.tagName.toLowerCase() !== tag) {
        list = el(tag);
        if (item[2] && item[2] !== "1") list.start = Number(item[2]);
        out.appendChild(list);
      }
      var li = el("li");
      inline(item[3], li);
      list.appendChild(li);
      para = null;
    } else if (list && /^\s{2,}\S/.test(line)) {
      list.lastChild.appendChild(document.createTextNode(" "));
      inline(line.trim(), list.lastChild);
    } else {
      if (!para) {
        para = el("p");
        out.appendChild(para);
        list = null;
      } else {
        para.appendChild(el("br"));
      }
      inline(line, para);
    }
  }
  return out;
}
