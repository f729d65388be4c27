// changetrail's pages: small progressive enhancements. Every page works without this file;
// it adds the viewer's time zone, live relative times, tidy filter URLs, drag-to-zoom on the
// chart and keyboard shortcuts.
(function () {
  "use strict";

  var body = document.body;

  // The server renders times in the zone this cookie names.
  function rememberZone() {
    var zone;
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (e) {
      return;
    }
    if (!zone || zone === body.dataset.zone) return;
    document.cookie = "ct_tz=" + encodeURIComponent(zone) + "; path=" +
      (body.dataset.cookiePath || "/") + "; max-age=31536000; SameSite=Lax";
    // Form fields that send the zone of the times typed into them.
    var fields = document.querySelectorAll('input[name="tz"]');
    for (var i = 0; i < fields.length; i++) {
      if (!fields[i].form || !fields[i].form.querySelector('input[type="datetime-local"][value]:not([value=""])')) {
        fields[i].value = zone;
      }
    }
  }

  function relative(iso, now) {
    var seconds = (now - Date.parse(iso)) / 1000;
    var ahead = seconds < 0;
    seconds = Math.abs(seconds);
    if (seconds < 45) return "just now";
    var steps = [[3600, "min", 60], [86400, "h", 3600], [86400 * 60, "days", 86400], [Infinity, "months", 86400 * 30]];
    for (var i = 0; i < steps.length; i++) {
      if (seconds < steps[i][0]) {
        var amount = Math.round(seconds / steps[i][2]);
        var unit = steps[i][1];
        if (amount === 1 && unit === "days") unit = "day";
        if (amount === 1 && unit === "months") unit = "month";
        return ahead ? "in " + amount + " " + unit : amount + " " + unit + " ago";
      }
    }
    return "";
  }

  function refreshRelativeTimes() {
    var now = Date.now();
    var items = document.querySelectorAll("[data-relative]");
    for (var i = 0; i < items.length; i++) {
      var text = relative(items[i].getAttribute("data-relative"), now);
      if (text) items[i].textContent = text;
    }
  }

  // Empty fields would otherwise fill the shared URL with "&source=&risk_level=".
  function tidyFilterForms() {
    var forms = document.querySelectorAll("form[method='get']");
    for (var i = 0; i < forms.length; i++) {
      forms[i].addEventListener("submit", function (event) {
        var form = event.target;
        var hasTime = false;
        var controls = form.elements;
        for (var j = 0; j < controls.length; j++) {
          var control = controls[j];
          if (control.type === "datetime-local" && control.value) hasTime = true;
        }
        for (var k = 0; k < controls.length; k++) {
          var c = controls[k];
          if (!c.name) continue;
          if (c.value === "" || (c.name === "tz" && !hasTime)) c.disabled = true;
        }
      });
    }
  }

  // Drag across the chart to zoom to that span; a plain click follows the bar's own link.
  function chartZoom(plot) {
    var svg = plot.querySelector("svg");
    var selection = plot.querySelector(".selection");
    var start = Number(plot.dataset.start);
    var end = Number(plot.dataset.end);
    var from = null;
    var dragged = false;

    function fraction(event) {
      var box = svg.getBoundingClientRect();
      return Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    }
    function draw(a, b) {
      var left = Math.min(a, b) * 960;
      selection.setAttribute("x", String(left));
      selection.setAttribute("width", String(Math.abs(b - a) * 960));
    }
    function iso(ms) {
      return new Date(ms).toISOString().replace(".000Z", "Z");
    }

    svg.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      from = fraction(event);
      dragged = false;
      svg.setPointerCapture(event.pointerId);
    });
    svg.addEventListener("pointermove", function (event) {
      if (from === null) return;
      var to = fraction(event);
      if (Math.abs(to - from) * svg.getBoundingClientRect().width > 4) dragged = true;
      if (dragged) {
        plot.classList.add("selecting");
        draw(from, to);
      }
    });
    svg.addEventListener("pointerup", function (event) {
      if (from === null) return;
      var to = fraction(event);
      var a = Math.min(from, to);
      var b = Math.max(from, to);
      from = null;
      plot.classList.remove("selecting");
      if (!dragged) return;
      var params = new URLSearchParams(plot.dataset.query || "");
      params.set("start_date", iso(Math.floor(start + a * (end - start))));
      params.set("end_date", iso(Math.ceil(start + b * (end - start))));
      window.location.assign(plot.dataset.path + "?" + params.toString());
    });
    // A drag that ends on a bar must not also follow that bar's link.
    svg.addEventListener("click", function (event) {
      if (dragged) {
        event.preventDefault();
        dragged = false;
      }
    }, true);
  }

  // j / k move between changes, / jumps to the text filter.
  function keyboard() {
    document.addEventListener("keydown", function (event) {
      var target = event.target;
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (target && (target.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName))) return;
      if (event.key === "/") {
        var search = document.querySelector("[data-search]");
        if (search) {
          event.preventDefault();
          var box = search.closest("details");
          if (box) box.open = true;
          search.focus();
        }
        return;
      }
      if (event.key !== "j" && event.key !== "k") return;
      var links = Array.prototype.slice.call(document.querySelectorAll(".changes .summary, .suspects .summary"));
      if (!links.length) return;
      var index = links.indexOf(document.activeElement);
      var next = event.key === "j" ? index + 1 : index - 1;
      if (index === -1) next = 0;
      next = Math.max(0, Math.min(links.length - 1, next));
      event.preventDefault();
      links[next].focus();
      var row = links[next].closest("li");
      if (row) row.scrollIntoView({block: "nearest"});
    });
  }

  // Charts count changes per bar, which takes longer than the list: the page comes first and
  // each chart is fetched after it (from this site only), then made zoomable.
  function loadCharts() {
    var slots = document.querySelectorAll(".chart-slot[data-src]");
    Array.prototype.forEach.call(slots, function (slot) {
      slot.setAttribute("aria-busy", "true");
      fetch(slot.getAttribute("data-src"), {credentials: "same-origin", headers: {"Accept": "text/html"}})
        .then(function (response) {
          // A redirect means the session ended: keep the link rather than show a sign-in form.
          if (!response.ok || response.redirected) throw new Error("chart " + response.status);
          return response.text();
        })
        .then(function (html) {
          slot.innerHTML = html;
          slot.removeAttribute("aria-busy");
          slot.classList.add("loaded");
          var plot = slot.querySelector(".chart-plot");
          if (plot) chartZoom(plot);
        })
        .catch(function () {
          slot.removeAttribute("aria-busy");
          slot.classList.add("failed");
        });
    });
  }

  rememberZone();
  refreshRelativeTimes();
  window.setInterval(refreshRelativeTimes, 30000);
  tidyFilterForms();
  var plots = document.querySelectorAll(".chart-plot");
  for (var i = 0; i < plots.length; i++) chartZoom(plots[i]);
  loadCharts();
  keyboard();
})();
