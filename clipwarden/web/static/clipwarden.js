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

// Times: the server writes each one in UTC ("5 Jan 2026, 17:12 UTC"); the reader sees it in their own time
// zone, and the UTC reading on hover.
document.addEventListener("DOMContentLoaded", () => {
  const local = new Intl.DateTimeFormat("en-GB", {
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  });
  document.querySelectorAll("time[datetime]").forEach((element) => {
    const moment = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(moment.getTime())) {
      return;
    }
    element.title = element.textContent;
    element.textContent = local.format(moment);
  });
});
