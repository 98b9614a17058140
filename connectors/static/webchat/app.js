/* The request page: a chat over Rasa's socket.io protocol and a plain form.
 * The socket.io session id kept in localStorage is the Rasa sender id, so a reload (or a
 * Liveinfo/SMS link, exchanged for its conversation's id) continues the conversation.
 * Phone numbers go only in POST bodies, never in a URL. */
(function () {
  "use strict";
  var TEXTS = JSON.parse(document.getElementById("texts").textContent);
  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  var SIO_PATH = document.querySelector('meta[name="socketio-path"]').content;
  var STORE_KEY = "sim4g.chat.session";

  var messages = document.getElementById("messages");
  var notice = document.getElementById("notice");
  var composer = document.getElementById("composer");
  var input = document.getElementById("message");
  var socket = null;
  var sessionId = null;
  var confirmed = false;
  var pending = [];  // typed before the session was confirmed

  function storage(key, value) {
    try {
      if (value === undefined) return window.localStorage.getItem(key);
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch (e) { /* private mode: the conversation lasts as long as the page */ }
    return null;
  }

  function postJSON(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        return { status: res.status, data: data };
      });
    });
  }

  /* ---- tabs ---- */
  function showTab(which) {
    ["chat", "form"].forEach(function (name) {
      document.getElementById("tab-" + name).setAttribute("aria-selected", String(name === which));
      document.getElementById("panel-" + name).hidden = name !== which;
    });
  }
  document.getElementById("tab-chat").addEventListener("click", function () { showTab("chat"); });
  document.getElementById("tab-form").addEventListener("click", function () { showTab("form"); });

  /* ---- chat ---- */
  function scrollDown() { messages.scrollTop = messages.scrollHeight; }

  function bubble(who, text) {
    var div = document.createElement("div");
    div.className = "msg " + who;
    div.textContent = text;
    messages.appendChild(div);
    scrollDown();
    return div;
  }

  function buttonRow(buttons) {
    var row = document.createElement("div");
    row.className = "buttons";
    buttons.forEach(function (b) {
      var btn = document.createElement("button");
      btn.type = "button";
      btn.textContent = b.title;
      btn.addEventListener("click", function () {
        Array.prototype.forEach.call(row.querySelectorAll("button"), function (x) { x.disabled = true; });
        send(b.payload || b.title, b.title);
      });
      row.appendChild(btn);
    });
    messages.appendChild(row);
    scrollDown();
  }

  function onBotUttered(msg) {
    if (!msg) return;
    if (msg.text) bubble("bot", msg.text);
    var att = msg.attachment;
    if (att && att.type === "image" && att.payload && att.payload.src) {
      var div = bubble("bot", "");
      var img = document.createElement("img");
      img.src = att.payload.src;
      img.alt = "";
      div.appendChild(img);
    }
    var buttons = msg.quick_replies || msg.buttons;
    if (buttons && buttons.length) buttonRow(buttons);
  }

  function send(payload, shown) {
    if (!payload) return;
    // Earlier choices are answered by whatever the customer sends now.
    Array.prototype.forEach.call(messages.querySelectorAll(".buttons button"), function (x) { x.disabled = true; });
    bubble("user", shown || payload);
    if (socket && confirmed) {
      socket.emit("user_uttered", { message: payload, session_id: sessionId });
    } else {
      pending.push(payload);
    }
  }

  composer.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });

  function connect() {
    socket = io({ path: SIO_PATH, transports: ["websocket", "polling"] });
    socket.on("connect", function () {
      notice.hidden = notice.dataset.kind !== "link";
      socket.emit("session_request", { session_id: sessionId });
    });
    socket.on("session_confirm", function (id) {
      var got = typeof id === "string" ? id : (id && id.session_id);
      if (!got) return;
      sessionId = got;
      confirmed = true;
      storage(STORE_KEY, got);
      document.body.dataset.session = "ready";
      while (pending.length) {
        socket.emit("user_uttered", { message: pending.shift(), session_id: sessionId });
      }
    });
    socket.on("bot_uttered", onBotUttered);
    socket.on("disconnect", function () {
      notice.dataset.kind = "offline";
      notice.textContent = TEXTS.chat_offline;
      notice.hidden = false;
    });
  }

  function welcome(fromLink) {
    bubble("bot", fromLink ? TEXTS.chat_link_welcome : TEXTS.chat_welcome);
    if (!fromLink && TEXTS.chat_starters && TEXTS.chat_starters.length) {
      buttonRow(TEXTS.chat_starters.map(function (s) { return { title: s.title, payload: s.text }; }));
    }
  }

  function start() {
    sessionId = storage(STORE_KEY);
    var match = /(?:^#|&)t=([\w.\-]+)/.exec(window.location.hash || "");
    if (!match) { welcome(false); connect(); return; }
    // The token leaves the address bar at once: it is not for bookmarks or screenshots.
    history.replaceState(null, "", window.location.pathname + window.location.search);
    postJSON("link", { token: match[1] }).then(function (res) {
      if (res.data.status === "ok" && res.data.session_id) {
        sessionId = res.data.session_id;
        storage(STORE_KEY, sessionId);
        // An invitation opened for the first time: the bot has started the request
        // (number known) and its first replies come with the answer.
        if (res.data.messages && res.data.messages.length) {
          res.data.messages.forEach(onBotUttered);
        } else {
          welcome(true);
        }
      } else {
        sessionId = null;  // a fresh conversation: never resume someone else's by mistake
        storage(STORE_KEY, null);
        notice.dataset.kind = "link";
        notice.textContent = res.data.message || TEXTS.chat_link_expired;
        notice.hidden = false;
        welcome(false);
      }
    }).catch(function () { welcome(false); }).then(connect);
  }

  /* ---- form ---- */
  var form = document.getElementById("request-form");
  var statusLine = document.getElementById("form-status");
  var submitBtn = document.getElementById("submit");

  function clearErrors() {
    Array.prototype.forEach.call(form.querySelectorAll("[data-error-for]"), function (p) { p.textContent = ""; });
    Array.prototype.forEach.call(form.querySelectorAll(".invalid"), function (el) { el.classList.remove("invalid"); });
    statusLine.textContent = "";
    statusLine.className = "status";
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    clearErrors();
    var checked = form.querySelector('input[name="request_type"]:checked');
    var body = {
      request_type: checked ? checked.value : "",
      phone: form.elements.phone.value,
      address: form.elements.address.value,
      name: form.elements["name"].value,
      province: form.elements.province.value,
      session_id: sessionId || ""
    };
    submitBtn.disabled = true;
    statusLine.textContent = TEXTS.form_sending;
    postJSON("request", body).then(function (res) {
      var data = res.data || {};
      if (res.status === 200 || res.status === 201) {
        statusLine.textContent = data.message;
        statusLine.className = "status ok";
        statusLine.dataset.reference = data.reference;
        form.reset();
        document.getElementById("province-row").hidden = true;
        return;
      }
      if (data.need_province) document.getElementById("province-row").hidden = false;
      var errors = data.errors || {};
      Object.keys(errors).forEach(function (field) {
        var p = form.querySelector('[data-error-for="' + field + '"]');
        if (p) p.textContent = errors[field];
        var el = form.elements[field];
        if (el && el.classList) el.classList.add("invalid");
      });
      statusLine.textContent = data.message || TEXTS.error_server;
      statusLine.className = "status bad";
    }).catch(function () {
      statusLine.textContent = TEXTS.error_server;
      statusLine.className = "status bad";
    }).then(function () { submitBtn.disabled = false; });
  });

  start();
})();
