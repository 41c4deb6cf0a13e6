// tracemill viewer: the page token goes with every htmx request (state changes need it).
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="tracemill-token"]');
  if (meta) event.detail.headers["X-Tracemill-Token"] = meta.content;
});
