import type { Child } from "hono/jsx";
import { formatTime } from "../lib/time";
import type { webhookView } from "../services/webhooks";
import { type HourlyCounts, type RecentCounts, successRate } from "./endpoint-stats";

export type WebhookView = ReturnType<typeof webhookView>;

export function StatusBadge({ webhook }: { webhook: WebhookView }) {
  if (webhook.is_active) return <span class="badge ok">Active</span>;
  return <span class="badge bad">{webhook.disabled_reason ? "Disabled by the platform" : "Disabled"}</span>;
}

export function DeliveryStatus({ status }: { status: string }) {
  const tone = status === "success" ? "ok" : status === "failed" ? "bad" : status === "pending" ? "warn" : "muted";
  return <span class={`badge ${tone}`}>{status}</span>;
}

export function RecentSummary({ counts }: { counts: RecentCounts }) {
  const rate = successRate(counts);
  return (
    <span>
      {rate === null ? "No finished deliveries" : `${(rate * 100).toFixed(1)} % succeeded`}
      <br />
      <span class="muted">
        {counts.succeeded} ok, {counts.failed} failed{counts.pending > 0 ? `, ${counts.pending} pending` : ""}
      </span>
    </span>
  );
}

export function Notice({ tone, children }: { tone?: "ok" | "bad"; children: Child }) {
  return (
    <div class={`notice ${tone ?? ""}`} role="status">
      {children}
    </div>
  );
}

/** A secret shown once: the text, and a copy button (hidden until the script shows it). */
export function OnceSecret({ id, value }: { id: string; value: string }) {
  return (
    <div class="secret">
      <code id={id}>{value}</code>
      <button type="button" class="secondary" data-copy-target={id} data-copy-status={`${id}-status`} hidden>
        Copy
      </button>
      <span id={`${id}-status`} role="status"></span>
    </div>
  );
}

/** The pretty form of a JSON body for display (escaped by JSX like any text); the body itself when it is not JSON. */
export function prettyJson(text: string): string {
  try {
    // Big integers would be rounded by JSON.parse: show such bodies as sent.
    if (/\d{16}/.test(text)) return text;
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/**
 * Deliveries per hour: a table (readable without script, and by screen readers) that the
 * portal script draws as a uPlot chart from data-chart (JSON in an attribute: escaped by JSX).
 */
export function HourlyChart({ hours, caption }: { hours: HourlyCounts[]; caption: string }) {
  const series = { hours: hours.map((h) => h.hour), succeeded: hours.map((h) => h.succeeded), failed: hours.map((h) => h.failed) };
  return (
    <figure class="chart-figure">
      <figcaption>Deliveries per hour, {caption} (UTC): succeeded and failed</figcaption>
      <div class="chart" data-chart={JSON.stringify(series)} aria-hidden="true"></div>
      <details>
        <summary>As a table</summary>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Hour</th>
                <th scope="col">Succeeded</th>
                <th scope="col">Failed</th>
              </tr>
            </thead>
            <tbody>
              {hours.map((h) => (
                <tr>
                  <td>{formatTime(h.hour * 1000)}</td>
                  <td>{h.succeeded}</td>
                  <td>{h.failed}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
