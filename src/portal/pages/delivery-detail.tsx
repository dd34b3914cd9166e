import type { deliveryAsSent } from "../../services/delivery-as-sent";
import type { PortalSession } from "../../services/portal-sessions";
import { DeliveryStatus, Notice, prettyJson } from "../components";
import { Layout } from "../layout";

type AsSent = Awaited<ReturnType<typeof deliveryAsSent>>;

interface DeliveryDetailProps {
  session: PortalSession;
  sent: AsSent;
  refusal?: string;
}

/** Everything from the receiver (excerpts, errors) and from the event data is text here: JSX escapes it. */
export function DeliveryDetailPage({ session, sent, refusal }: DeliveryDetailProps) {
  const { delivery, webhook } = sent;
  const canRetry = !session.readOnly && (delivery.status === "failed" || delivery.status === "cancelled");
  const base = `/portal/endpoints/${webhook.id}`;
  return (
    <Layout title="Delivery" session={session}>
      {refusal && (
        <Notice tone="bad">
          <p>{refusal}</p>
        </Notice>
      )}
      {delivery.status === "pending" && (
        <p class="muted" data-live-refresh="3000">
          This delivery is pending: this page refreshes every few seconds.
        </p>
      )}
      <dl class="facts">
        <dt>Endpoint</dt>
        <dd>
          <a href={base}>{webhook.url}</a>
        </dd>
        <dt>Event</dt>
        <dd>{delivery.event}</dd>
        <dt>Status</dt>
        <dd>
          <DeliveryStatus status={delivery.status} />
        </dd>
        <dt>Attempts</dt>
        <dd>{delivery.attempts}</dd>
        <dt>Next retry</dt>
        <dd>{delivery.next_retry_at ?? "None"}</dd>
        <dt>Created</dt>
        <dd>{delivery.created_at}</dd>
        <dt>Id (webhook-id header)</dt>
        <dd>
          <code>{delivery.id}</code>
        </dd>
      </dl>
      <div class="actions">
        <a href={`${base}/deliveries`}>Back to the log</a>
        {canRetry && (
          <form method="post" action={`${base}/deliveries/${delivery.id}/retry`}>
            <button type="submit">Retry</button>
          </form>
        )}
      </div>
      <h2>Attempts</h2>
      {delivery.attempt_log.length === 0 ? (
        <p>No attempt yet.</p>
      ) : (
        <ol class="attempts">
          {delivery.attempt_log.map((a) => (
            <li>
              <dl class="facts">
                <dt>Time</dt>
                <dd>{a.attempted_at}</dd>
                <dt>Status</dt>
                <dd>{a.status_code === null ? "No response" : `HTTP ${a.status_code}`}</dd>
                <dt>Duration</dt>
                <dd>{a.response_time_ms} ms</dd>
                <dt>Error</dt>
                <dd>{a.error ?? "None"}</dd>
              </dl>
              <p>Response excerpt</p>
              <pre class="response-excerpt">{a.response_excerpt ?? "(empty)"}</pre>
            </li>
          ))}
        </ol>
      )}
      <h2>Payload</h2>
      <p class="muted">The body as sent (formatted here; the receiver got it compact, the bytes its signature covers).</p>
      <pre class="payload">{prettyJson(sent.body)}</pre>
      <h2>Headers</h2>
      <p class="muted">
        {sent.sent ? "Of the last attempt" : "As the first attempt will send them"}; signatures recomputed with the endpoint's secrets as they are now (after a
        rotation they differ from those sent).
      </p>
      <div class="table-wrap">
        <table>
          <caption class="skip">Request headers</caption>
          <tbody>
            {Object.entries(sent.headers).map(([name, value]) => (
              <tr>
                <th scope="row">{name}</th>
                <td class="wrap">
                  <code>{value}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Layout>
  );
}
