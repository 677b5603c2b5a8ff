/* CheckOnce pages: calling the JSON API from a page with the session cookie. */
(function () {
  "use strict";
  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  /* fetch JSON; resolves to {ok, status, body}; rejects only when the network fails. */
  function api(method, url, body) {
    var init = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (method !== "GET") { init.headers["X-CSRF-Token"] = csrf(); }
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (r) {
      return r.text().then(function (text) {
        var parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = null; }
        return { ok: r.ok, status: r.status, body: parsed };
      });
    });
  }
  function errorMessage(result, fallback) {
    return result.body && result.body.error ? result.body.error.message : fallback;
  }
  window.CheckOnce = { api: api, csrf: csrf, errorMessage: errorMessage };
})();

/* A select marked data-autosubmit sends its form when changed (no inline handlers: the
   Content-Security-Policy allows only scripts from this site). */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.matches && target.matches("select[data-autosubmit]") && target.form) {
      target.form.submit();
    }
  });
})();

/* Typed data survives an expired session: every form that posts is remembered in this tab
   (sessionStorage: never sent anywhere, gone with the tab) before it is sent. When the
   session had ended, the server sends the browser to log in and then back to the form's page
   with "#restore"; the form is filled in again from what was typed. Passwords, files and the
   CSRF token are never kept. */
(function () {
  "use strict";
  var PREFIX = "checkonce.form:";
  var MAX_AGE_MS = 24 * 3600 * 1000;
  var SKIP = { csrf: true };
  function keyFor(form) { return PREFIX + (form.getAttribute("action") || location.pathname); }
  function keepable(field) {
    if (!field.name || SKIP[field.name] || field.disabled) { return false; }
    var type = (field.type || "").toLowerCase();
    return ["password", "file", "submit", "button", "reset", "hidden"].indexOf(type) < 0;
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || (form.method || "").toLowerCase() !== "post" || form.hasAttribute("data-no-keep")) { return; }
    var fields = [];
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!keepable(field)) { return; }
      var type = (field.type || "").toLowerCase();
      if ((type === "checkbox" || type === "radio") && !field.checked) { return; }
      fields.push([field.name, field.value]);
    });
    try {
      sessionStorage.setItem(keyFor(form), JSON.stringify({ page: location.pathname + location.search, at: Date.now(), fields: fields }));
    } catch (e) { /* storage full or disabled: nothing to keep */ }
  }, true);
  function restore() {
    if (location.hash !== "#restore") { return; }
    var restored = 0;
    Array.prototype.forEach.call(document.querySelectorAll("form[method=post]"), function (form) {
      var raw = null;
      try { raw = sessionStorage.getItem(keyFor(form)); } catch (e) { raw = null; }
      if (!raw) { return; }
      var saved = null;
      try { saved = JSON.parse(raw); } catch (e) { saved = null; }
      sessionStorage.removeItem(keyFor(form));
      if (!saved || Date.now() - saved.at > MAX_AGE_MS) { return; }
      var byName = {};
      saved.fields.forEach(function (pair) { (byName[pair[0]] = byName[pair[0]] || []).push(pair[1]); });
      Array.prototype.forEach.call(form.elements, function (field) {
        if (!keepable(field) || !(field.name in byName)) { return; }
        var values = byName[field.name];
        var type = (field.type || "").toLowerCase();
        if (type === "checkbox" || type === "radio") {
          field.checked = values.indexOf(field.value) >= 0;
        } else {
          field.value = values.length > 1 ? values.shift() : values[0];
        }
      });
      var hidden = form.closest("[hidden]");
      if (hidden) { hidden.hidden = false; }
      form.setAttribute("data-restored", "");
      restored += 1;
    });
    history.replaceState(null, "", location.pathname + location.search);
    var note = document.getElementById("restored-note");
    var main = document.querySelector("main");
    if (restored && note && main) { main.insertBefore(note.content.cloneNode(true), main.firstChild); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", restore); } else { restore(); }
})();
