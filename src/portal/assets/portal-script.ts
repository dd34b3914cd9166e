/**
 * The portal's only client script, served at /portal/assets/portal-<hash>.js (the CSP allows
 * scripts from 'self' only, never inline). Two interactions need it: copying a secret shown
 * once, and reloading a delivery log while deliveries are pending. Every page works without it.
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
`;
