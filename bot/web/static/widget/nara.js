/*
 * Nära's chat widget. A municipality adds it to any page with one tag:
 *
 *   <script src="https://<nara-web>/widget/nara.js" defer></script>
 *
 * It reads /widget/config.json from the same server (the opening text, the labels, the phone numbers that may
 * become tap-to-call links, the quick-exit address and the Rasa server's address) and talks to Rasa's socket.io
 * channel. No cookies and no third-party requests; the conversation lives in sessionStorage, so it is gone when
 * the tab closes, and the quick exit ("Lämna sidan snabbt", or Esc twice) clears it at once.
 * Plain ES2017, no build step, no inline styles or scripts (the pages' Content-Security-Policy forbids them).
 */
(function () {
  "use strict";

  if (window.__naraWidget) return; // one widget per page, even if the tag is there twice
  window.__naraWidget = true;

  var script = document.currentScript;
  var base = new URL(".", script ? script.src : location.href).href.replace(/\/$/, ""); // .../widget
  var STORE = "nara.conversation";
  var ESC_WINDOW_MS = 1500;

  var config = null;
  var socket = null;
  var state = loadState();
  var els = {};
  var lastEsc = 0;

  // --- storage: sessionStorage only, and never required ------------------------------------------------------

  function loadState() {
    try {
      var saved = JSON.parse(sessionStorage.getItem(STORE) || "null");
      if (saved && typeof saved.id === "string" && Array.isArray(saved.messages)) return saved;
    } catch (e) {
      /* private mode or a broken value: start afresh */
    }
    return { id: newId(), messages: [], open: false };
  }

  function saveState() {
    try {
      sessionStorage.setItem(STORE, JSON.stringify(state, function (key, value) {
        return key === "node" || key === "live" ? undefined : value; // the data, not the page's elements
      }));
    } catch (e) {
      /* storage full or refused: the chat still works, it is just not kept on reload */
    }
  }

  function newId() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // --- small DOM helpers -----------------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else if (attrs[key] !== null && attrs[key] !== undefined) node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function label(key) {
    return (config && config.labels[key]) || "";
  }

  // Text as paragraphs, lines and tap-to-call links for the numbers of knowledge/lines.yml (and only those).
  function richText(text) {
    var box = el("div", { className: "nara-text" });
    String(text || "").split(/\n{2,}/).forEach(function (paragraph) {
      var lines = paragraph.split("\n");
      if (lines.every(function (line) { return /^[-•] /.test(line); })) {
        var list = el("ul");
        lines.forEach(function (line) {
          var item = el("li");
          linkNumbers(item, line.slice(2));
          list.appendChild(item);
        });
        box.appendChild(list);
        return;
      }
      var p = el("p");
      paragraph.split("\n").forEach(function (line, i) {
        if (i > 0) p.appendChild(el("br"));
        linkNumbers(p, line);
      });
      box.appendChild(p);
    });
    return box;
  }

  var phonePattern = null;
  function linkNumbers(parent, line) {
    var phones = (config && config.phones) || [];
    if (!phones.length) {
      parent.appendChild(document.createTextNode(line));
      return;
    }
    if (!phonePattern) {
      var alternatives = phones.map(function (p) { return p.text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); });
      phonePattern = new RegExp("(?<![\\d])(" + alternatives.join("|") + ")(?![\\d])", "g");
    }
    var at = 0;
    line.replace(phonePattern, function (match, _number, offset) {
      if (offset > at) parent.appendChild(document.createTextNode(line.slice(at, offset)));
      var phone = phones.filter(function (p) { return p.text === match; })[0];
      parent.appendChild(el("a", { href: phone.tel, className: "nara-tel", text: match }));
      at = offset + match.length;
      return match;
    });
    if (at < line.length) parent.appendChild(document.createTextNode(line.slice(at)));
  }

  function swedishDate(iso) {
    var date = new Date(iso + "T12:00:00");
    if (isNaN(date)) return iso;
    return date.toLocaleDateString("sv-SE", { day: "numeric", month: "long", year: "numeric" });
  }

  // --- the conversation -------------------------------------------------------------------------------------

  // A message in state: {from: "bot"|"user", text, buttons?: [{title, payload}], source?, reviewed?, crisis?,
  // handover?}. Custom payloads from the bot add to the bot messages of the same turn.
  function render(message) {
    var mine = message.from === "user";
    var classes = "nara-msg " + (mine ? "nara-user" : "nara-bot");
    if (message.crisis) classes += " nara-crisis";
    if (message.handover) classes += " nara-handover";
    var node = el("div", { className: classes });
    node.appendChild(el("span", { className: "nara-sr", text: (mine ? label("you") : label("bot")) + ": " }));
    var bubble = el("div", { className: "nara-bubble" });
    if (message.crisis) bubble.appendChild(el("p", { className: "nara-crisis-label", text: label("crisis") }));
    bubble.appendChild(richText(message.text));
    if (message.source) {
      var source = el("p", { className: "nara-source" });
      source.appendChild(document.createTextNode(label("source") + ": "));
      if (message.source.url) {
        source.appendChild(el("a", { href: message.source.url, rel: "noopener noreferrer", text: message.source.title }));
      } else {
        source.appendChild(document.createTextNode(message.source.title));
      }
      if (message.reviewed) source.appendChild(document.createTextNode(". " + label("reviewed") + " " + swedishDate(message.reviewed) + "."));
      bubble.appendChild(source);
    }
    node.appendChild(bubble);
    if (message.buttons && message.buttons.length && message.live) {
      var group = el("div", { className: "nara-buttons", role: "group", "aria-label": "Svarsalternativ" });
      message.buttons.forEach(function (button) {
        var b = el("button", { type: "button", className: "nara-button", text: button.title });
        b.addEventListener("click", function () { send(button.payload, button.title); });
        group.appendChild(b);
      });
      node.appendChild(group);
    }
    message.node = node;
    return node;
  }

  function append(message, options) {
    message.live = true;
    state.messages.forEach(function (m) {
      if (m.live && m.buttons && m.node) {
        var old = m.node.querySelector(".nara-buttons");
        if (old) old.remove(); // only the newest answer keeps its buttons
      }
      m.live = false;
    });
    state.messages.push(message);
    els.log.appendChild(render(message));
    scrollDown();
    if (!(options && options.transient)) saveState();
  }

  function rerender(message) {
    var old = message.node;
    var node = render(message);
    if (old && old.parentNode) old.parentNode.replaceChild(node, old);
    scrollDown();
    saveState();
  }

  function scrollDown() {
    els.log.scrollTop = els.log.scrollHeight;
  }

  function turnMessages() {
    // The bot messages since the resident last wrote.
    var out = [];
    for (var i = state.messages.length - 1; i >= 0 && state.messages[i].from === "bot"; i--) out.unshift(state.messages[i]);
    return out;
  }

  function onBotMessage(data) {
    setTyping(false);
    if (!data || typeof data !== "object") return;
    if (data.custom) return onCustom(data.custom);
    if (typeof data.text === "string" && data.text) {
      var buttons = (data.quick_replies || data.buttons || []).map(function (b) { return { title: b.title, payload: b.payload }; });
      append({ from: "bot", text: data.text, buttons: buttons });
    }
  }

  function onCustom(custom) {
    var turn = turnMessages();
    var last = turn[turn.length - 1];
    if (custom.erased) {
      // The server deleted the conversation: so does the page (someone may look at the screen later).
      var reply = last;
      state = { id: newId(), messages: [], open: true };
      els.log.textContent = "";
      if (reply) append({ from: "bot", text: reply.text });
      reconnect();
      return;
    }
    if (custom.crisis) {
      turn.forEach(function (m) { m.crisis = custom.crisis; rerender(m); });
      // The crisis reply is read from its start ("Om det är akut", 112), not from its end.
      if (turn[0]) els.log.scrollTop = turn[0].node.offsetTop - els.log.offsetTop;
      return;
    }
    if (!last) return;
    if (custom.article && custom.source) {
      last.source = { title: custom.source.title || custom.title, url: custom.source.url };
      last.reviewed = custom.reviewed_at;
      rerender(last);
    } else if (custom.handover) {
      last.handover = custom.handover.code;
      rerender(last);
    }
  }

  function send(text, shown) {
    text = String(text || "").trim();
    showError("");
    if (!text) return showError(label("empty"));
    if (text.length > config.max_chars) return showError(label("too_long"));
    if (!socket) return setOffline(true);
    append({ from: "user", text: shown || text });
    setTyping(true);
    socket.emit("user_uttered", { message: text, session_id: state.id });
    els.input.value = "";
    els.input.focus();
  }

  function setTyping(on) {
    els.typing.hidden = !on;
  }

  function showError(text) {
    els.error.textContent = text;
    els.error.hidden = !text;
  }

  function setOffline(offline) {
    if (offline === !els.offline.hidden) return;
    els.offline.hidden = !offline;
    els.offline.textContent = offline ? label("offline") : "";
  }

  // --- socket.io ---------------------------------------------------------------------------------------------

  function connect() {
    socket = window.io(config.chat_url, { path: "/socket.io", reconnectionDelayMax: 10000 });
    socket.on("connect", function () {
      setOffline(false);
      socket.emit("session_request", { session_id: state.id });
    });
    socket.on("session_confirm", function () { els.root.setAttribute("data-connected", "true"); });
    socket.on("connect_error", function () { setOffline(true); setTyping(false); });
    socket.on("disconnect", function () {
      els.root.setAttribute("data-connected", "false");
      setOffline(true);
      setTyping(false);
    });
    socket.on("bot_uttered", onBotMessage);
  }

  function reconnect() {
    if (socket) socket.emit("session_request", { session_id: state.id });
    saveState();
  }

  // --- the quick exit ----------------------------------------------------------------------------------------

  function quickExit() {
    try {
      sessionStorage.removeItem(STORE);
    } catch (e) {
      /* nothing stored */
    }
    if (socket) socket.disconnect();
    if (els.root) els.root.remove();
    location.replace(new URL(config ? config.exit_url : "/lamna", base).href);
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var now = Date.now();
    if (now - lastEsc < ESC_WINDOW_MS) quickExit();
    lastEsc = now;
  });

  // --- building the widget -----------------------------------------------------------------------------------

  function setOpen(open) {
    state.open = open;
    els.panel.hidden = !open;
    els.launcher.setAttribute("aria-expanded", String(open));
    els.root.classList.toggle("nara-is-open", open);
    saveState();
    if (open) {
      scrollDown();
      els.input.focus();
    } else {
      els.launcher.focus();
    }
  }

  function build() {
    els.launcher = el("button", { type: "button", className: "nara-launcher", "aria-expanded": "false", "aria-controls": "nara-panel", text: label("launcher") });
    els.exit = el("button", { type: "button", className: "nara-exit", text: label("exit") });
    els.close = el("button", { type: "button", className: "nara-close", "aria-label": label("close"), title: label("close") }, [el("span", { "aria-hidden": "true", text: "×" })]);
    els.log = el("div", { className: "nara-log", id: "nara-log", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-labelledby": "nara-title", tabindex: "0" });
    els.typing = el("p", { className: "nara-typing", "aria-hidden": "true", text: label("typing") });
    els.offline = el("p", { className: "nara-offline", role: "status" });
    els.input = el("textarea", { id: "nara-input", className: "nara-input", rows: "2", maxlength: String(config.max_chars), autocomplete: "off", "aria-describedby": "nara-error" });
    els.error = el("p", { className: "nara-error", id: "nara-error", role: "alert" });
    els.form = el("form", { className: "nara-form", novalidate: "novalidate" }, [
      el("label", { for: "nara-input", className: "nara-label", text: label("input") }),
      el("div", { className: "nara-row" }, [els.input, el("button", { type: "submit", className: "nara-send", text: label("send") })]),
      els.error,
    ]);
    els.panel = el("section", { id: "nara-panel", className: "nara-panel", "aria-labelledby": "nara-title" }, [
      el("div", { className: "nara-header" }, [el("h2", { id: "nara-title", className: "nara-title", text: label("title") }), els.close]),
      el("div", { className: "nara-exit-row" }, [els.exit, el("p", { className: "nara-hint", text: label("exit_hint") })]),
      els.log,
      els.typing,
      els.offline,
      els.form,
    ]);
    els.root = el("div", { className: "nara-root", lang: "sv" }, [els.launcher, els.panel]);
    els.panel.hidden = true;
    els.typing.hidden = true;
    els.offline.hidden = true;
    els.error.hidden = true;

    els.launcher.addEventListener("click", function () { setOpen(!state.open); });
    els.close.addEventListener("click", function () { setOpen(false); });
    els.exit.addEventListener("click", quickExit);
    els.form.addEventListener("submit", function (event) { event.preventDefault(); send(els.input.value); });
    els.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        send(els.input.value);
      }
    });
    document.body.appendChild(els.root);

    var saved = state.messages;
    state.messages = [];
    if (!saved.length) {
      config.opening.forEach(function (text, i) {
        var last = i === config.opening.length - 1;
        append({ from: "bot", text: text, buttons: last ? config.opening_buttons : [] }, { transient: true });
      });
    } else {
      saved.forEach(function (m, i) {
        append({ from: m.from, text: m.text, buttons: i === saved.length - 1 ? m.buttons : [], source: m.source, reviewed: m.reviewed, crisis: m.crisis, handover: m.handover }, { transient: true });
      });
    }
    saveState();
    if (state.open) setOpen(true);
  }

  function loadSocketIo(then) {
    if (window.io) return then();
    var tag = document.createElement("script");
    tag.src = base + "/vendor/socket.io.min.js";
    tag.onload = then;
    tag.onerror = function () { setOffline(true); };
    document.head.appendChild(tag);
  }

  function loadStyles() {
    if (document.querySelector("link[data-nara]")) return;
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = base + "/nara.css";
    link.setAttribute("data-nara", "");
    document.head.appendChild(link);
  }

  function start() {
    loadStyles();
    fetch(base + "/config.json", { credentials: "omit" })
      .then(function (response) { if (!response.ok) throw new Error(response.status); return response.json(); })
      .then(function (loaded) {
        config = loaded;
        build();
        loadSocketIo(connect);
      })
      .catch(function () {
        // Without its server the widget still says where to turn.
        var note = el("p", { className: "nara-root nara-unavailable", role: "status", text: "Chatten går inte att nå just nu. Om någon är i fara: ring 112." });
        document.body.appendChild(note);
      });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
