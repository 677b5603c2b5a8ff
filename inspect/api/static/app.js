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
