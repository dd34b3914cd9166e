/**
 * The portal's only client script, served at /portal/assets/portal-<hash>.js (the CSP allows
 * scripts from 'self' only, never inline). Two interactions need it: copying a secret shown
 * once, reloading a delivery log while deliveries are pending, and drawing the endpoint page's
 * chart with uPlot (served beside it) from its data-chart table data. Every page works without it.
 */
export const PORTAL_SCRIPT = `
"use strict";
document.querySelectorAll("[data-copy-target]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () {
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    var status = document.getElementById(button.getAttribute("data-copy-status"));
    navigator.clipboard.writeText(source.textContent).then(
      function () { if (status) status.textContent = "Copied to the clipboard."; },
      function () { if (status) status.textContent = "Copy failed: select the text and copy it."; }
    );
  });
});
var live = document.querySelector("[data-live-refresh]");
if (live) {
  setTimeout(function () { location.reload(); }, Number(live.getAttribute("data-live-refresh")) || 3000);
}
var chart = document.querySelector("[data-chart]");
if (chart && window.uPlot) {
  var data = JSON.parse(chart.getAttribute("data-chart"));
  var options = {
    width: chart.clientWidth,
    height: 220,
    tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); }, // the caption says UTC
    series: [{}, { label: "Succeeded", stroke: "#116329", width: 2 }, { label: "Failed", stroke: "#a40e26", width: 2 }],
    axes: [{}, { size: 40 }],
    scales: { y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
  };
  var plot = new uPlot(options, [data.hours, data.succeeded, data.failed], chart);
  window.addEventListener("resize", function () { plot.setSize({ width: chart.clientWidth, height: 220 }); });
}
`;
