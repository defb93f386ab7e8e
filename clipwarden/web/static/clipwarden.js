// Progressive help for the share form: the server checks everything; this only makes the choice visible.
// The share button stays disabled until a purpose is ticked, and a ticked notice is outlined.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("share-form");
  if (!form) {
    return;
  }
  const button = document.getElementById("share-button");
  const purposes = Array.from(form.querySelectorAll('input[name="purpose"]'));
  const update = () => {
    purposes.forEach((box) => box.closest("fieldset").classList.toggle("chosen", box.checked));
    button.disabled = !purposes.some((box) => box.checked);
  };
  purposes.forEach((box) => box.addEventListener("change", update));
  update();
});
