import { DELIVERY_STATUSES, type DeliveryStatus as Status } from "../../db/schema";
import { EVENT_TYPES, TEST_EVENT_TYPE } from "../../events/catalog";
import type { deliveryView } from "../../services/deliveries";
import type { PortalSession } from "../../services/portal-sessions";
import { DeliveryStatus, type WebhookView } from "../components";
import { Layout } from "../layout";

type DeliveryView = ReturnType<typeof deliveryView>;

export interface LogFilter {
  status?: Status;
  event?: string;
  skip: number;
  limit: number;
}

interface DeliveryLogProps {
  session: PortalSession;
  webhook: WebhookView;
  deliveries: DeliveryView[];
  hasMore: boolean;
  filter: LogFilter;
}

/** The log's URL with the filter and a page offset (escaped as an attribute by JSX). */
const logHref = (webhookId: string, filter: LogFilter, skip: number) => {
  const query = new URLSearchParams();
  if (filter.status) query.set("status", filter.status);
  if (filter.event) query.set("event", filter.event);
  if (skip > 0) query.set("skip", String(skip));
  const text = query.toString();
  return `/portal/endpoints/${webhookId}/deliveries${text ? `?${text}` : ""}`;
};

export function DeliveryLogPage({ session, webhook, deliveries, hasMore, filter }: DeliveryLogProps) {
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
        <p>No deliveries{filter.status || filter.event ? " match these filters" : " yet"}.</p>
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
                  <td class="wrap">{d.last_status_code !== null ? `HTTP ${d.last_status_code}` : d.last_error ?? "None yet"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="actions" aria-label="Pages">
        {filter.skip > 0 && <a href={logHref(webhook.id, filter, Math.max(0, filter.skip - filter.limit))}>Newer</a>}
        {hasMore && <a href={logHref(webhook.id, filter, filter.skip + filter.limit)}>Older</a>}
      </nav>
    </Layout>
  );
}
