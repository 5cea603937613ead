// genesis-drill report: values on hover for the SLI charts. Inline, no network, no library.
// Each <svg data-chart> carries its plot box, axis ranges and samples (seconds since the
// injection, value; or, on the history page, run index and value with a label per run); the
// sample nearest the pointer is shown in the panel's readout.
(function () {
  "use strict";
  function clock(epochSeconds) {
    return new Date(epochSeconds * 1000).toISOString().slice(11, 19);
  }
  function format(value) {
    var digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 1 ? 1 : 3;
    return value.toLocaleString("en-US", { maximumFractionDigits: digits });
  }
  function nearest(points, seconds) {
    var lo = 0, hi = points.length - 1;
    while (hi - lo > 1) {
      var mid = (lo + hi) >> 1;
      if (points[mid][0] < seconds) { lo = mid; } else { hi = mid; }
    }
    return Math.abs(points[lo][0] - seconds) <= Math.abs(points[hi][0] - seconds) ? lo : hi;
  }
  function attach(svg) {
    var chart = JSON.parse(svg.getAttribute("data-chart"));
    var figure = svg.closest("figure");
    var readout = figure ? figure.querySelector(".readout") : null;
    var cursor = svg.querySelector(".cursor");
    if (!readout || !cursor || !chart.points.length) { return; }
    var plot = chart.plot, xr = chart.x, yr = chart.y;
    var line = cursor.querySelector("line"), dot = cursor.querySelector("circle");
    function show(event) {
      var matrix = svg.getScreenCTM();
      if (!matrix) { return; }
      var point = svg.createSVGPoint();
      point.x = event.clientX; point.y = event.clientY;
      var local = point.matrixTransform(matrix.inverse());
      var seconds = xr[0] + (local.x - plot[0]) / (plot[1] - plot[0]) * (xr[1] - xr[0]);
      var index = nearest(chart.points, seconds);
      var sample = chart.points[index];
      var x = plot[0] + (sample[0] - xr[0]) / (xr[1] - xr[0]) * (plot[1] - plot[0]);
      var y = plot[3] - (sample[1] - yr[0]) / (yr[1] - yr[0]) * (plot[3] - plot[2]);
      line.setAttribute("x1", x); line.setAttribute("x2", x);
      dot.setAttribute("cx", x); dot.setAttribute("cy", y);
      cursor.setAttribute("visibility", "visible");
      if (chart.labels) {  // a history chart: one point per run, labelled with the run
        readout.textContent = chart.labels[index] + ": " + format(sample[1]) + " " + chart.unit;
      } else {
        var sign = sample[0] >= 0 ? "+" : "";
        readout.textContent = "T" + sign + sample[0].toFixed(1) + " s (" +
          clock(chart.origin + sample[0]) + " UTC): " + format(sample[1]) + " " + chart.unit;
      }
      readout.setAttribute("data-seconds", String(sample[0]));
      readout.setAttribute("data-value", String(sample[1]));
    }
    svg.addEventListener("pointermove", show);
    svg.addEventListener("pointerleave", function () {
      cursor.setAttribute("visibility", "hidden");
    });
  }
  document.querySelectorAll("svg[data-chart]").forEach(attach);
})();
