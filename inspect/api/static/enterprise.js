/* Enterprise pages: paste an inspection code from the clipboard; show a rating form again. */
(function () {
  "use strict";
  document.querySelectorAll("[data-paste]").forEach(function (button) {
    var field = button.form && button.form.elements[button.getAttribute("data-paste")];
    if (!field || !navigator.clipboard || !navigator.clipboard.readText) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.readText().then(function (text) {
        field.value = text.trim();
        field.focus();
      }, function () { field.focus(); });
    });
  });
  document.querySelectorAll("[data-show-edit]").forEach(function (button) {
    button.addEventListener("click", function () {
      var card = document.getElementById(button.getAttribute("data-show-edit"));
      var form = card && card.querySelector("form[data-edit]");
      if (form) { form.hidden = false; button.hidden = true; }
    });
  });
})();
