import type { PortalSession } from "../../services/portal-sessions";
import { RecentSummary, StatusBadge, type WebhookView } from "../components";
import type { RecentCounts } from "../endpoint-stats";
import { Layout } from "../layout";

interface EndpointsPageProps {
  session: PortalSession;
  webhooks: WebhookView[];
  total: number;
  recent: Map<string, RecentCounts>;
}

export function EndpointsPage({ session, webhooks, total, recent }: EndpointsPageProps) {
  return (
    <Layout title="Endpoints" session={session}>
      <div class="actions">
        {!session.readOnly && (
          <a class="button" href="/portal/endpoints/new">
            Add endpoint
          </a>
        )}
        <span class="muted">
          {total} endpoint{total === 1 ? "" : "s"}
          {total > webhooks.length ? ` (showing the newest ${webhooks.length})` : ""}
        </span>
      </div>
      {webhooks.length === 0 ? (
        <p>No endpoints yet.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="skip">Endpoints, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Endpoint</th>
                <th scope="col">Events</th>
                <th scope="col">Status</th>
                <th scope="col">Last 24 h</th>
                <th scope="col">Last delivery</th>
              </tr>
            </thead>
            <tbody>
              {webhooks.map((w) => (
                <tr>
                  <td class="url">
                    <a href={`/portal/endpoints/${w.id}`}>{w.url}</a>
                    {w.description && (
                      <>
                        <br />
                        <span class="muted">{w.description}</span>
                      </>
                    )}
                  </td>
                  <td>{w.events.join(", ")}</td>
                  <td>
                    <StatusBadge webhook={w} />
                    {w.disabled_reason && (
                      <>
                        <br />
                        <span class="muted">{w.disabled_reason}</span>
                      </>
                    )}
                  </td>
                  <td>
                    <RecentSummary counts={recent.get(w.id)!} />
                  </td>
                  <td>{w.last_delivery_at ?? "Never"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  );
}
