/** The portal's one stylesheet, served at /portal/assets/portal-<hash>.css (no inline styles: the CSP allows 'self' only). */
export const PORTAL_CSS = `
:root { --fg:#1b1f24; --muted:#4a5563; --line:#d0d7de; --bg:#fff; --accent:#0b5cad; --ok:#116329; --bad:#a40e26; --warn:#7a4b00; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
* { box-sizing: border-box; }
body { margin: 0; line-height: 1.45; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible, summary:focus-visible { outline: 3px solid #f5a623; outline-offset: 2px; }
.skip { position: absolute; left: -10000px; }
.skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px 8px; z-index: 10; }
header.top { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; padding: 10px 16px; border-bottom: 1px solid var(--line); }
header.top .brand { font-weight: 700; margin-right: auto; }
header.top nav ul { display: flex; flex-wrap: wrap; gap: 12px; list-style: none; margin: 0; padding: 0; }
header.top form { margin: 0; }
main { padding: 16px; max-width: 1100px; margin: 0 auto; }
h1 { font-size: 1.5rem; margin: 0.2em 0 0.6em; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin-top: 1.6em; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.85rem; border: 1px solid currentColor; white-space: nowrap; }
.ok { color: var(--ok); } .bad { color: var(--bad); } .warn { color: var(--warn); } .muted { color: var(--muted); }
.table-wrap { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
td.url, .wrap { overflow-wrap: anywhere; word-break: break-word; }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.85rem; }
pre { background: #f6f8fa; border: 1px solid var(--line); padding: 10px; white-space: pre-wrap; overflow-wrap: anywhere; max-width: 100%; }
dl.facts { display: grid; grid-template-columns: minmax(8em, max-content) 1fr; gap: 4px 16px; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
form.stack { display: grid; gap: 12px; max-width: 640px; }
form.inline { display: inline; }
label { font-weight: 600; }
input[type=text], input[type=url], input[type=datetime-local], select, textarea { width: 100%; max-width: 100%; padding: 6px 8px; font: inherit; border: 1px solid #6e7781; border-radius: 4px; }
fieldset { border: 1px solid var(--line); border-radius: 4px; }
fieldset label { font-weight: 400; display: block; }
button, .button { font: inherit; padding: 6px 14px; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; text-decoration: none; display: inline-block; }
button.secondary, .button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); }
.actions { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 12px 0; }
.actions form { margin: 0; display: inline-flex; }
.notice { border: 1px solid var(--line); border-left: 4px solid var(--accent); padding: 8px 12px; margin: 12px 0; overflow-wrap: anywhere; }
.notice.bad { border-left-color: var(--bad); } .notice.ok { border-left-color: var(--ok); }
.secret { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
.secret code { overflow-wrap: anywhere; background: #f6f8fa; padding: 4px 6px; }
.filters { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: end; }
.filters > div { display: grid; gap: 2px; }
.chart-figure { margin: 0; max-width: 100%; }
.chart { width: 100%; min-height: 0; overflow: hidden; }
`;
