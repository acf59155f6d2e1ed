// Warden console: live inbox (server-sent events) and keyboard shortcuts.
// No framework, no build step. The server renders all HTML; this file only swaps in
// fragments the server rendered and moves focus.
(function () {
  "use strict";
  var live = document.getElementById("live-status");
  function say(text) { if (live) { live.textContent = text; } }

  function refreshInbox() {
    var list = document.getElementById("inbox-list");
    if (!list) { return Promise.resolve(); }
    return fetch("/inbox/items", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        // Keep what the user is typing: only replace when nobody is editing a reason.
        var active = document.activeElement;
        if (active && active.tagName === "INPUT" && list.contains(active) && active.value) { return; }
        list.innerHTML = html;
        say("Inbox updated " + new Date().toLocaleTimeString());
      })
      .catch(function () { say("Live update failed; reload the page"); });
  }

  function refreshRequest(id) {
    var page = document.getElementById("request-page");
    if (!page || page.getAttribute("data-id") !== id) { return; }
    fetch("/approvals/" + encodeURIComponent(id) + "/fragment", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { page.innerHTML = html; say("Request updated"); })
      .catch(function () {});
  }

  if (window.EventSource && (document.getElementById("inbox-list") || document.getElementById("request-page"))) {
    var es = new EventSource("/events");
    es.addEventListener("approval", function (ev) {
      var data = {};
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      refreshInbox();
      if (data.id) { refreshRequest(data.id); }
    });
    es.onopen = function () { say("Live"); document.body.setAttribute("data-live", "1"); };
    es.onerror = function () { say("Reconnecting..."); };
  }

  // "waiting 3m 12s" keeps counting between updates.
  function fmt(secs) {
    var h = Math.floor(secs / 3600), m = Math.floor((secs % 3600) / 60), s = secs % 60;
    return h > 0 ? h + "h " + m + "m" : m > 0 ? m + "m " + s + "s" : s + "s";
  }
  setInterval(function () {
    var now = Math.floor(Date.now() / 1000);
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var since = parseInt(el.getAttribute("data-since"), 10);
      if (!isNaN(since)) { el.textContent = fmt(Math.max(0, now - since)); }
    });
  }, 1000);

  // Keyboard: j/k move between requests, / focuses the first filter or reason field,
  // Enter on a focused request opens it. Never steal keys from form fields.
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) { return; }
    var items = Array.prototype.slice.call(document.querySelectorAll("[data-item]"));
    var idx = items.indexOf(document.activeElement);
    if (e.key === "j" && items.length) { items[Math.min(idx + 1, items.length - 1)].focus(); e.preventDefault(); }
    else if (e.key === "k" && items.length) { items[Math.max(idx - 1, 0)].focus(); e.preventDefault(); }
    else if (e.key === "/") {
      var field = document.querySelector("form.filters input, form.decide input[type=text]");
      if (field) { field.focus(); e.preventDefault(); }
    } else if (e.key === "Enter" && idx >= 0) {
      var link = items[idx].querySelector("a[data-open]");
      if (link) { link.click(); }
    }
  });
})();
