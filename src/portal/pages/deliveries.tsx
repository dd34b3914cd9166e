import { DELIVERY_STATUSES, type DeliveryStatus as Status } from "../../db/schema";
import { EVENT_TYPES, TEST_EVENT_TYPE } from "../../events/catalog";
import type { deliveryView } from "../../services/deliveries";
import type { Page } from "../../services/paging";
import type { PortalSession } from "../../services/portal-sessions";
import { DeliveryStatus, type WebhookView } from "../components";
import { Layout } from "../layout";

type DeliveryView = ReturnType<typeof deliveryView>;

/** The log's query string as given (times as the datetime-local fields hold them, UTC). */
export interface LogFilter {
  status?: Status;
  event?: string;
  since?: string;
  until?: string;
  /** Cursors: a delivery id; the page shows the deliveries older (before) or newer (after) than it. */
  before?: string;
  after?: string;
}

interface DeliveryLogProps {
  session: PortalSession;
  webhook: WebhookView;
  page: Page<DeliveryView>;
  filter: LogFilter;
}

/** The log's URL with the filters and a cursor (escaped as an attribute by JSX). */
const logHref = (webhookId: string, filter: LogFilter, cursor: { before: string } | { after: string }) => {
  const query = new URLSearchParams();
  for (const name of ["status", "event", "since", "until"] as const) {
    const value = filter[name];
    if (value) query.set(name, value);
  }
  for (const [name, id] of Object.entries(cursor)) query.set(name, id);
  return `/portal/endpoints/${webhookId}/deliveries?${query.toString()}`;
};

export function DeliveryLogPage({ session, webhook, page, filter }: DeliveryLogProps) {
  const deliveries = page.items;
  const filtered = Boolean(filter.status || filter.event || filter.since || filter.until);
  const pending = deliveries.some((d) => d.status === "pending");
  return (
    <Layout title="Delivery log" session={session}>
      <p class="wrap">
        <a href={`/portal/endpoints/${webhook.id}`}>{webhook.url}</a>
      </p>
      <form class="filters" method="get">
        <div>
          <label for="status">Status</label>
          <select id="status" name="status">
            <option value="">Any</option>
            {DELIVERY_STATUSES.map((s) => (
              <option value={s} selected={filter.status === s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="event">Event type</label>
          <select id="event" name="event">
            <option value="">Any</option>
            {[...EVENT_TYPES, TEST_EVENT_TYPE].map((t) => (
              <option value={t} selected={filter.event === t}>
                {t}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="since">Since (UTC)</label>
          <input id="since" name="since" type="datetime-local" step={1} value={filter.since ?? ""} />
        </div>
        <div>
          <label for="until">Until (UTC)</label>
          <input id="until" name="until" type="datetime-local" step={1} value={filter.until ?? ""} />
        </div>
        <div>
          <button type="submit" class="secondary">
            Filter
          </button>
        </div>
      </form>
      {pending && (
        <p class="muted" data-live-refresh="3000">
          Deliveries are pending: this page refreshes every few seconds.
        </p>
      )}
      {deliveries.length === 0 ? (
        <p>No deliveries{filtered ? " match these filters" : " here"}.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="skip">Deliveries, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last response</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.map((d) => (
                <tr>
                  <td>
                    <a href={`/portal/endpoints/${webhook.id}/deliveries/${d.id}`}>{d.created_at}</a>
                  </td>
                  <td>{d.event}</td>
                  <td>
                    <DeliveryStatus status={d.status} />
                  </td>
                  <td>{d.attempts}</td>
                  <td class="wrap">{d.last_status_code !== null ? `HTTP ${d.last_status_code}` : (d.last_error ?? "None yet")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page.total !== null && (
        <p class="muted">
          {page.total} deliver{page.total === 1 ? "y" : "ies"}
          {filtered ? " match" : " in all"}
        </p>
      )}
      <nav class="actions" aria-label="Pages">
        {page.hasNewer && deliveries.length > 0 && <a href={logHref(webhook.id, filter, { after: deliveries[0].id })}>Newer</a>}
        {page.hasOlder && deliveries.length > 0 && <a href={logHref(webhook.id, filter, { before: deliveries.at(-1)!.id })}>Older</a>}
      </nav>
    </Layout>
  );
}
