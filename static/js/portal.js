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
