/* Schedule generation: start a background job through the JSON API and poll its progress. */
(function () {
  "use strict";
  var form = document.getElementById("generate");
  if (!form) { return; }
  var box = document.getElementById("job");
  var bar = document.getElementById("job-progress");
  var percent = document.getElementById("job-percent");
  var message = document.getElementById("job-message");
  var result = document.getElementById("job-result");
  var problem = document.getElementById("generate-error");
  var button = form.querySelector("button[type=submit]");

  function fail(text) {
    problem.textContent = text;
    problem.hidden = false;
    button.disabled = false;
  }

  function show(job) {
    bar.value = job.progress;
    percent.textContent = Math.round(job.progress * 100) + "%";
    message.textContent = job.message || job.stage || job.state;
    box.dataset.state = job.state;
  }

  function poll(id, misses) {
    CheckOnce.api("GET", "/api/v1/schedules/jobs/" + id).then(function (r) {
      if (!r.ok) { fail(CheckOnce.errorMessage(r, form.dataset.failed)); return; }
      show(r.body);
      if (r.body.state === "done") {
        var link = document.createElement("a");
        link.href = "/coordinator/schedules/" + r.body.schedule_id;
        link.textContent = form.dataset.open;
        link.id = "job-schedule";
        result.textContent = form.dataset.done + " ";
        result.appendChild(link);
        button.disabled = false;
      } else if (r.body.state === "failed") {
        fail(r.body.message || form.dataset.failed);
      } else {
        window.setTimeout(function () { poll(id, 0); }, 700);
      }
    }, function () {
      message.textContent = form.dataset.network;
      window.setTimeout(function () { poll(id, misses + 1); }, Math.min(10000, 1000 * (misses + 1)));
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    problem.hidden = true;
    result.textContent = "";
    var body = {
      period: form.elements.period.value.trim(),
      time_limit: Number(form.elements.time_limit.value)
    };
    var seed = form.elements.seed.value.trim();
    if (seed) { body.seed = seed; }
    button.disabled = true;
    CheckOnce.api("POST", "/api/v1/schedules/jobs", body).then(function (r) {
      if (!r.ok) { fail(CheckOnce.errorMessage(r, form.dataset.failed)); return; }
      box.hidden = false;
      show(r.body);
      poll(r.body.id, 0);
    }, function () { fail(form.dataset.network); });
  });
})();
