// exprun dashboard: inlined into every page. The pages work without it; it adds a filter over the index's
// rows and, when `exprun dashboard --serve` serves the pages, reloads one once it was regenerated.
(function () {
  "use strict";
  var box = document.getElementById("filter-box");
  var input = document.getElementById("filter");
  var table = document.getElementById("experiments");
  var shown = document.getElementById("shown");
  if (box && input && table && table.tBodies.length) {
    var rows = table.tBodies[0].rows;
    box.hidden = false;
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var count = 0;
      for (var i = 0; i < rows.length; i++) {
        var text = rows[i].textContent.toLowerCase();
        var match = words.every(function (word) { return text.indexOf(word) !== -1; });
        rows[i].hidden = !match;
        if (match) { count++; }
      }
      if (shown) { shown.textContent = count + " of " + rows.length + " shown"; }
    });
  }
  if (location.protocol === "http:" && window.fetch) {
    var seen = null;
    var check = function () {
      fetch(location.pathname, { method: "HEAD", cache: "no-store" }).then(function (answer) {
        var stamp = answer.headers.get("Last-Modified");
        if (seen === null) { seen = stamp; } else if (stamp && stamp !== seen) { location.reload(); }
      }).catch(function () { /* the server stopped: keep the page as it is */ });
    };
    check();
    setInterval(check, 5000);
  }
})();
