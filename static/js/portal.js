// Small page helpers; everything else is htmx attributes in the templates.
document.addEventListener("click", function (event) {
  const all = event.target.closest("[data-check-all]");
  if (!all) return;
  document.querySelectorAll("input[name=ids]").forEach(function (box) { box.checked = all.checked; });
});
document.addEventListener("htmx:sendError", function () {
  const box = document.getElementById("messages");
  if (box) box.innerHTML = '<div class="msg error" role="alert">The portal could not be reached. Nothing was changed; try again.</div>';
});
document.addEventListener("htmx:responseError", function (event) {
  const box = document.getElementById("messages");
  if (box) box.innerHTML = '<div class="msg error" role="alert">Something went wrong (' + event.detail.xhr.status + '). Nothing was lost; reload the page and try again.</div>';
});

// A filter form's empty fields stay out of the URL it pushes (?project=&vendor=... reads badly).
document.addEventListener("htmx:configRequest", function (event) {
  if (!event.detail.elt.matches || !event.detail.elt.matches("form[data-drop-empty]")) return;
  const data = event.detail.formData;
  Array.from(data.keys()).forEach(function (key) {
    if (data.getAll(key).every(function (value) { return value === ""; })) data.delete(key);
  });
});

// Enter in a filter is a change and a submit: the same address twice would take two presses of
// Back to undo; an address already shown replaces its history entry instead.
document.addEventListener("htmx:beforeHistoryUpdate", function (event) {
  const entry = event.detail.history;
  if (entry && entry.type === "push" && entry.path === location.pathname + location.search) entry.type = "replace";
});

// A tab's rows replace themselves (Accept, Reject, Retry, the export's progress). The focus follows
// the row it was in: into the inline form when one opened, else back onto the row (not the top of
// the page); a change of the row's state is said in the live region (#row-status).
const rowsBefore = {};
document.addEventListener("htmx:beforeSwap", function (event) {
  const row = event.detail.target;
  if (!row || !row.matches || !row.matches("tbody.item")) return;
  rowsBefore[row.id] = {state: row.dataset.state, focused: row.contains(document.activeElement)};
});
document.addEventListener("htmx:afterSettle", function (event) {
  Object.keys(rowsBefore).forEach(function (id) {
    const before = rowsBefore[id];
    delete rowsBefore[id];
    const row = document.getElementById(id);
    if (!row) return;
    // ...unless the user is already in the row's new form (a field clicked, typing begun): the
    // focus moves once, never out from under them.
    const active = document.activeElement;
    const settled = active && row.contains(active) && active.closest(".inline-form");
    if (before.focused && !settled) {
      const field = row.querySelector(".inline-form textarea, .inline-form input:not([type=hidden]), .inline-form select, .inline-form button");
      const target = field || row.querySelector("tr.item-row");
      if (target) target.focus();
    }
    const live = document.getElementById("row-status");
    if (live && row.dataset.announce && row.dataset.state !== before.state) live.textContent = row.dataset.announce;
  });
});

// Escape in a row's inline form cancels it (its Cancel link).
document.addEventListener("keydown", function (event) {
  if (event.key !== "Escape") return;
  const form = event.target.closest && event.target.closest(".inline-form");
  const cancel = form && form.querySelector("[data-cancel]");
  if (!cancel) return;
  event.preventDefault();
  cancel.click();
});
