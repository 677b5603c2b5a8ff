/* CheckOnce inspector pages: one-tap check-in on the enterprise code page (/e/<token>) and
   the phone's check-in queue.

   A tap makes one check-in request with a fresh idempotency key and puts it in the queue in
   localStorage before anything is sent. The queue is sent now, on the `online` event and on
   the next load of any inspector page; every retry sends the very same request (same key,
   time and place), so the server records it once however often it arrives. A request leaves
   the queue only when the server has answered it for good (stored, or refused with a reason);
   an expired session keeps it and asks the inspector to log in again.

   A check-in that reaches the server after the day it was tapped (tapped at 23:50, sent after
   midnight) is refused as `backfill_required`: nothing is stored. It leaves the queue (it is
   never sent again) but is kept, with its time and place, in a second list until the visit's
   back-fill form records the entry or the inspector dismisses it; the link to that form
   carries the tapped time and place. */
(function () {
  "use strict";
  var QUEUE_KEY = "checkonce.checkin-queue";
  var BACKFILL_KEY = "checkonce.checkin-backfill";
  var panel = document.getElementById("checkin-queue");
  if (!panel) { return; }
  var messagesNode = document.getElementById("inspector-messages");
  var T = messagesNode ? JSON.parse(messagesNode.textContent) : {};
  var user = panel.getAttribute("data-user") || "";
  var list = panel.querySelector(".queue-list");
  var status = panel.querySelector(".queue-status");
  var button = document.getElementById("checkin");
  var buttonStatus = document.getElementById("checkin-status");
  var flushing = false;
  var sent = [];

  function read(storageKey) {
    try { return JSON.parse(localStorage.getItem(storageKey) || "[]"); } catch (e) { return []; }
  }
  function load() { return read(QUEUE_KEY); }
  function save(queue) { localStorage.setItem(QUEUE_KEY, JSON.stringify(queue)); }
  function loadBackfill() { return read(BACKFILL_KEY); }
  function saveBackfill(items) { localStorage.setItem(BACKFILL_KEY, JSON.stringify(items)); }
  function mineOnly(item) { return !item.user || item.user === user; }
  function remove(key) {
    save(load().filter(function (item) { return item.body.idempotency_key !== key; }));
  }
  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function two(n) { return ("0" + n).slice(-2); }
  function timeOf(iso) {
    var d = new Date(iso);
    return two(d.getHours()) + ":" + two(d.getMinutes());
  }
  function dayOf(iso) {
    var d = new Date(iso);
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate());
  }
  /* The visit's back-fill form with the tapped time and place filled in; without a visit
     (an unplanned entry, or a tap queued before visits were remembered), that day's route. */
  function backfillLink(item) {
    var body = item.body;
    if (!item.visitId) { return "/inspector?day=" + dayOf(body.client_time); }
    var query = "?backfill_at=" + encodeURIComponent(body.client_time);
    if (typeof body.lat === "number" && typeof body.lon === "number") {
      query += "&lat=" + encodeURIComponent(body.lat) + "&lon=" + encodeURIComponent(body.lon);
    }
    return "/inspector/visits/" + encodeURIComponent(item.visitId) + query + "#backfill";
  }
  function say(text, loginLink) {
    status.textContent = text || "";
    if (loginLink) {
      var a = document.createElement("a");
      a.href = panel.getAttribute("data-login");
      a.className = "button";
      a.textContent = T.login_link;
      status.appendChild(document.createTextNode(" "));
      status.appendChild(a);
    }
    if (buttonStatus) { buttonStatus.textContent = text || ""; }
  }

  function render() {
    var queue = load();
    list.textContent = "";
    queue.forEach(function (item) {
      var li = document.createElement("li");
      li.className = "queued";
      li.setAttribute("data-key", item.body.idempotency_key);
      li.textContent = item.enterprise + " · " + T.queued_at + " " + timeOf(item.body.client_time) + " · " +
        (item.user && item.user !== user ? T.other_user : T.waiting);
      list.appendChild(li);
    });
    loadBackfill().filter(mineOnly).forEach(function (item) {
      var body = item.body;
      var li = document.createElement("li");
      li.className = "backfill";
      li.setAttribute("data-key", body.idempotency_key);
      var place = typeof body.lat === "number" && typeof body.lon === "number"
        ? " · " + T.tapped_place + " " + body.lat.toFixed(5) + ", " + body.lon.toFixed(5) : "";
      li.textContent = item.enterprise + " · " + T.queued_at + " " + dayOf(body.client_time) + " " +
        timeOf(body.client_time) + place + " · " + T.backfill_needed + " ";
      var a = document.createElement("a");
      a.href = backfillLink(item);
      a.className = "button";
      a.textContent = item.visitId ? T.backfill_link : T.backfill_route;
      li.appendChild(a);
      var dismiss = document.createElement("button");
      dismiss.type = "button";
      dismiss.className = "link";
      dismiss.textContent = T.backfill_dismiss;
      dismiss.addEventListener("click", function () {
        saveBackfill(loadBackfill().filter(function (other) {
          return other.body.idempotency_key !== body.idempotency_key;
        }));
        render();
      });
      li.appendChild(document.createTextNode(" "));
      li.appendChild(dismiss);
      list.appendChild(li);
    });
    sent.forEach(function (done) {
      var li = document.createElement("li");
      li.className = done.ok ? "sent" : "refused";
      li.textContent = done.enterprise + " · " + done.text + " ";
      if (done.visitId) {
        var a = document.createElement("a");
        a.href = "/inspector/visits/" + done.visitId;
        a.textContent = T.open_visit;
        li.appendChild(a);
      }
      list.appendChild(li);
    });
    panel.hidden = !list.childNodes.length && !status.textContent;
  }

  /* Send every queued check-in of this user, one after another. */
  function flush() {
    if (flushing || !user) { render(); return Promise.resolve(); }
    var mine = load().filter(mineOnly);
    if (!mine.length) { render(); return Promise.resolve(); }
    flushing = true;
    say(T.sending);
    render();
    var chain = Promise.resolve(true);
    mine.forEach(function (item) {
      chain = chain.then(function (goOn) { return goOn ? sendOne(item) : false; });
    });
    return chain.then(function () { flushing = false; render(); });
  }

  /* Resolves to whether to go on with the next one. */
  function sendOne(item) {
    return CheckOnce.api("POST", "/api/v1/checkins", item.body).then(function (result) {
      var key = item.body.idempotency_key;
      if (result.ok) {
        remove(key);
        sent.push({ ok: true, enterprise: item.enterprise, text: result.body.message, visitId: result.body.visit_id });
        say(T.sent + "：" + result.body.message);
        if (button && item.body.token === button.getAttribute("data-token")) {
          button.disabled = true;
          button.textContent = button.getAttribute("data-done");
          button.setAttribute("data-checked-in", "true");
        }
        return true;
      }
      if (result.status === 401 || result.status === 403) {
        say(T.login, true);  /* kept: sent after the inspector logs in again */
        return false;
      }
      if (result.status >= 500 || result.status === 429) {
        say(T.server_error);
        return false;
      }
      if (result.body && result.body.error && result.body.error.code === "backfill_required") {
        /* Too late for a check-in at the door: keep the tap for its back-fill, never resend. */
        var waiting = loadBackfill().filter(function (other) {
          return other.body.idempotency_key !== key;
        });
        waiting.push(item);
        saveBackfill(waiting);
        remove(key);
        say(item.enterprise + "：" + T.backfill_needed);
        return true;
      }
      remove(key);  /* refused for good, with the server's reason */
      var why = CheckOnce.errorMessage(result, T.refused);
      sent.push({ ok: false, enterprise: item.enterprise, text: T.refused + "：" + why });
      say(T.refused + "：" + why);
      return true;
    }, function () {
      say(T.queued);
      return false;
    });
  }

  if (button) {
    button.addEventListener("click", function () {
      if (button.getAttribute("data-checked-in")) { return; }
      var token = button.getAttribute("data-token");
      var pending = load().some(function (item) {
        return item.body.token === token && (!item.user || item.user === user);
      });
      /* A check-in already waiting for this enterprise is sent again, never doubled. */
      if (pending) { flush(); return; }
      if (!navigator.geolocation) { say(T.no_location); return; }
      button.disabled = true;
      say(T.locating);
      navigator.geolocation.getCurrentPosition(function (pos) {
        var queue = load();
        queue.push({
          user: user,
          enterprise: button.getAttribute("data-enterprise"),
          visitId: button.getAttribute("data-visit-id") || null,
          body: {
            token: button.getAttribute("data-token"),
            credit_code: button.getAttribute("data-credit-code"),
            idempotency_key: newKey(),
            client_time: new Date().toISOString(),
            lat: pos.coords.latitude,
            lon: pos.coords.longitude
          }
        });
        save(queue);
        flush().then(function () {
          if (!button.getAttribute("data-checked-in")) { button.disabled = false; }
        });
      }, function () {
        button.disabled = false;
        say(T.no_location);
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }
  /* This page shows my check-in at a visit: a tap kept for that visit's back-fill is done. */
  var checkedInVisit = panel.getAttribute("data-checked-in-visit");
  if (checkedInVisit) {
    saveBackfill(loadBackfill().filter(function (item) {
      return !(mineOnly(item) && String(item.visitId) === checkedInVisit);
    }));
  }
  window.addEventListener("online", flush);
  window.addEventListener("storage", function (event) {
    if (event.key === QUEUE_KEY || event.key === BACKFILL_KEY) { render(); }
  });
  flush();
})();
