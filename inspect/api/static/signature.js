/* Signing the on-site record on a phone (现场检查笔录签名): draw on the canvas with a finger,
   pen or mouse (pointer events), then post the PNG with the signer's details to the API.
   No library, no inline script: the page loads this file after app.js. */
(function () {
  "use strict";
  var form = document.getElementById("sign-form");
  if (!form) { return; }
  var pad = document.getElementById("sig-pad");
  var ctx = pad.getContext("2d");
  var drawing = false;
  var strokes = 0;
  var errorBox = document.getElementById("sig-error");

  function scalePad() {
    /* Draw at the device's pixel density so the signature stays sharp on the document. */
    var ratio = window.devicePixelRatio || 1;
    var width = pad.clientWidth || 300;
    var height = Math.round(width * 0.37);
    pad.width = Math.round(width * ratio);
    pad.height = Math.round(height * ratio);
    pad.style.height = height + "px";
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.lineWidth = 2.5;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#111";
    strokes = 0;
  }
  function point(event) {
    var box = pad.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  }
  pad.addEventListener("pointerdown", function (event) {
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    drawing = true;
    var p = point(event);
    ctx.beginPath();
    ctx.moveTo(p.x, p.y);
    ctx.lineTo(p.x + 0.1, p.y + 0.1);
    ctx.stroke();
  });
  pad.addEventListener("pointermove", function (event) {
    if (!drawing) { return; }
    event.preventDefault();
    var p = point(event);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
  });
  function stop() {
    if (drawing) { strokes += 1; }
    drawing = false;
  }
  pad.addEventListener("pointerup", stop);
  pad.addEventListener("pointercancel", stop);
  pad.addEventListener("pointerleave", stop);
  document.getElementById("sig-clear").addEventListener("click", function () {
    ctx.clearRect(0, 0, pad.width, pad.height);
    strokes = 0;
  });

  function signer() {
    var checked = form.querySelector("input[name=signer]:checked");
    return checked ? checked.value : "inspector";
  }
  function showFields() {
    var who = signer();
    form.querySelector(".firm-fields").hidden = who === "inspector";
    form.querySelector(".refusal-fields").hidden = who !== "refused";
    form.querySelector(".pad-fields").hidden = who === "refused";
  }
  Array.prototype.forEach.call(form.querySelectorAll("input[name=signer]"), function (input) {
    input.addEventListener("change", showFields);
  });
  showFields();
  scalePad();

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    errorBox.textContent = "";
    var who = signer();
    var body = {
      signer: who === "inspector" ? "inspector" : "enterprise",
      name: form.elements.name.value.trim(),
      role: form.elements.role.value.trim(),
      refused: who === "refused",
      reason: form.elements.reason.value.trim()
    };
    if (who !== "refused") {
      if (strokes === 0) { errorBox.textContent = pad.dataset.empty || "请在框内手写签名"; return; }
      body.image = pad.toDataURL("image/png");
    }
    var button = document.getElementById("sig-submit");
    button.disabled = true;
    window.CheckOnce.api("POST", "/api/v1/documents/" + form.dataset.document + "/signatures", body)
      .then(function (result) {
        if (result.ok) { window.location.reload(); return; }
        button.disabled = false;
        errorBox.textContent = window.CheckOnce.errorMessage(result, "签名未保存，请重试");
      }, function () {
        button.disabled = false;
        errorBox.textContent = "网络不通，签名未保存，请重试";
      });
  });
})();
