// Live unit state over Server-Sent Events. Values are set as text (never as markup).
(function () {
  "use strict";
  var nodes = document.querySelectorAll("[data-unit]");
  if (!nodes.length || !window.EventSource) { return; }
  var ids = [];
  nodes.forEach(function (n) { if (ids.indexOf(n.dataset.unit) < 0) { ids.push(n.dataset.unit); } });
  var es = new EventSource("/live?ids=" + encodeURIComponent(ids.join(",")));
  es.addEventListener("units", function (ev) {
    var units;
    try { units = JSON.parse(ev.data); } catch (e) { return; }
    units.forEach(function (u) {
      nodes.forEach(function (row) {
        if (row.dataset.unit !== u.id) { return; }
        row.querySelectorAll("[data-field]").forEach(function (el) {
          var f = el.dataset.field;
          if (!(f in u)) { return; }
          el.textContent = u[f] == null ? "" : String(u[f]);
          if (f === "status") {
            el.classList.toggle("on", u.online === true);
            el.classList.toggle("off", u.online === false);
          }
        });
      });
    });
  });
  es.addEventListener("logout", function () { es.close(); window.location.href = "/login"; });
})();
