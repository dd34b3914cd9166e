import type { PortalSession } from "../../services/portal-sessions";
import { HourlyChart, Notice, OnceSecret, RecentSummary, StatusBadge, type WebhookView } from "../components";
import type { ChartRange, HourlyCounts, RecentCounts } from "../endpoint-stats";
import { Layout } from "../layout";

/** What the last action on this page did, shown once above the endpoint. */
export type EndpointOutcome =
  | { kind: "created"; secret: string }
  | { kind: "rotated"; secret: string; previousUntil: string | null }
  | { kind: "tested"; success: boolean; statusCode: number | null; error: string | null; ms: number; deliveryId: string }
  | { kind: "recovered"; queued: number; hasMore: boolean }
  | { kind: "refused"; message: string };

interface EndpointDetailProps {
  session: PortalSession;
  webhook: WebhookView;
  recent: RecentCounts;
  hourly: HourlyCounts[];
  range: ChartRange;
  outcome?: EndpointOutcome;
}

function OutcomeNotice({ outcome, webhookId }: { outcome: EndpointOutcome; webhookId: string }) {
  switch (outcome.kind) {
    case "created":
    case "rotated":
      return (
        <Notice tone="ok">
          <p>{outcome.kind === "created" ? "Endpoint added." : "Secret rotated."} Its signing secret, shown only now: store it with your receiver.</p>
          <OnceSecret id="signing-secret" value={outcome.secret} />
          {outcome.kind === "rotated" && outcome.previousUntil && <p>The previous secret keeps signing until {outcome.previousUntil}.</p>}
        </Notice>
      );
    case "tested":
      return (
        <Notice tone={outcome.success ? "ok" : "bad"}>
          <p id="test-result">
            Test event {outcome.success ? "delivered" : "failed"}: {outcome.statusCode === null ? "no response" : `HTTP ${outcome.statusCode}`}, {outcome.ms} ms
            {outcome.error ? `, ${outcome.error}` : ""}. <a href={`/portal/endpoints/${webhookId}/deliveries/${outcome.deliveryId}`}>See the delivery</a>
          </p>
        </Notice>
      );
    case "recovered":
      return (
        <Notice tone="ok">
          <p>
            {outcome.queued} failed deliver{outcome.queued === 1 ? "y" : "ies"} queued again{outcome.hasMore ? "; more remain: recover again to continue" : ""}.
          </p>
        </Notice>
      );
    case "refused":
      return (
        <Notice tone="bad">
          <p>{outcome.message}</p>
        </Notice>
      );
  }
}

export function EndpointDetailPage({ session, webhook, recent, hourly, range, outcome }: EndpointDetailProps) {
  const base = `/portal/endpoints/${webhook.id}`;
  const writable = !session.readOnly;
  return (
    <Layout title="Endpoint" session={session} chart>
      {outcome && <OutcomeNotice outcome={outcome} webhookId={webhook.id} />}
      <dl class="facts">
        <dt>URL</dt>
        <dd>{webhook.url}</dd>
        <dt>Description</dt>
        <dd>{webhook.description ?? "None"}</dd>
        <dt>Status</dt>
        <dd>
          <StatusBadge webhook={webhook} /> {webhook.disabled_reason && <span class="muted">{webhook.disabled_reason}</span>}
        </dd>
        <dt>Events</dt>
        <dd>{webhook.events.join(", ")}</dd>
        <dt>Retry schedule</dt>
        <dd>{webhook.retry_schedule_seconds.length === 0 ? "No retries" : `${webhook.retry_schedule_seconds.join(" s, ")} s between attempts`}</dd>
        <dt>Last 24 h</dt>
        <dd>
          <RecentSummary counts={recent} />
        </dd>
        <dt>Last delivery</dt>
        <dd>{webhook.last_delivery_at ?? "Never"}</dd>
        <dt>Id</dt>
        <dd>
          <code>{webhook.id}</code>
        </dd>
      </dl>
      <div class="actions">
        <a class="button" href={`${base}/deliveries`}>
          Delivery log
        </a>
        {writable && (
          <>
            <a class="button secondary" href={`${base}/edit`}>
              Edit
            </a>
            <form class="inline" method="post" action={`${base}/${webhook.is_active ? "disable" : "enable"}`}>
              <button type="submit" class="secondary">
                {webhook.is_active ? "Disable" : "Enable"}
              </button>
            </form>
            <a class="button secondary" href={`${base}/delete`}>
              Delete
            </a>
          </>
        )}
      </div>
      <h2>Deliveries</h2>
      <nav class="actions" aria-label="Chart range">
        {range === "24h" ? <strong>Last 24 h</strong> : <a href={base}>Last 24 h</a>}
        {range === "7d" ? <strong>Last 7 days</strong> : <a href={`${base}?range=7d`}>Last 7 days</a>}
      </nav>
      <HourlyChart hours={hourly} caption={range === "7d" ? "last 7 days" : "last 24 h"} />
      {writable && (
        <>
          <h2>Send a test event</h2>
          <p>One signed webhook.test event, sent now without retries; its result shows here and in the delivery log.</p>
          <form method="post" action={`${base}/test`}>
            <button type="submit">Send test event</button>
          </form>
          <h2>Rotate the signing secret</h2>
          <p>A new secret is shown once. The previous one keeps signing for 24 hours, so your receiver can switch without losing deliveries.</p>
          <form method="post" action={`${base}/rotate-secret`}>
            <button type="submit" class="secondary">
              Rotate secret
            </button>
          </form>
          <h2>Recover failed deliveries</h2>
          <form class="stack" method="post" action={`${base}/recover`}>
            <div>
              <label for="since">Failed deliveries created since (UTC)</label>
              <input id="since" name="since" type="datetime-local" step={1} required />
            </div>
            <div>
              <button type="submit" class="secondary">
                Recover
              </button>
            </div>
          </form>
        </>
      )}
    </Layout>
  );
}

export function DeleteConfirmPage({ session, webhook }: { session: PortalSession; webhook: WebhookView }) {
  return (
    <Layout title="Delete endpoint?" session={session}>
      <p>
        Delete <strong class="wrap">{webhook.url}</strong>? Its pending deliveries are cancelled and it receives no more events. This cannot be undone.
      </p>
      <div class="actions">
        <form method="post" action={`/portal/endpoints/${webhook.id}/delete`}>
          <button type="submit" class="danger">
            Delete endpoint
          </button>
        </form>
        <a href={`/portal/endpoints/${webhook.id}`}>Cancel</a>
      </div>
    </Layout>
  );
}
