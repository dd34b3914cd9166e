import { EVENT_TYPES } from "../../events/catalog";
import type { FieldIssue } from "../../lib/errors";
import type { PortalSession } from "../../services/portal-sessions";
import { Notice } from "../components";
import { Layout } from "../layout";

/** What the form shows: the values as typed (also after a refusal, so nothing is lost). */
export interface EndpointFormValues {
  url: string;
  description: string;
  events: string[];
  retrySchedule: string;
}

interface EndpointFormProps {
  session: PortalSession;
  /** Absent: a new endpoint. */
  webhookId?: string;
  values: EndpointFormValues;
  problems?: FieldIssue[];
}

export function EndpointFormPage({ session, webhookId, values, problems }: EndpointFormProps) {
  const title = webhookId ? "Edit endpoint" : "Add endpoint";
  return (
    <Layout title={title} session={session}>
      {problems && problems.length > 0 && (
        <Notice tone="bad">
          <p>The endpoint was not saved:</p>
          <ul>
            {problems.map((p) => (
              <li>
                {p.field}: {p.message}
              </li>
            ))}
          </ul>
        </Notice>
      )}
      <form class="stack" method="post" action={webhookId ? `/portal/endpoints/${webhookId}` : "/portal/endpoints"}>
        <div>
          <label for="url">Endpoint URL</label>
          <input id="url" name="url" type="url" required value={values.url} placeholder="https://example.com/webhooks" />
        </div>
        <div>
          <label for="description">Description</label>
          <input id="description" name="description" type="text" maxlength={500} value={values.description} />
        </div>
        <fieldset>
          <legend>Events to send</legend>
          {EVENT_TYPES.map((type) => (
            <label>
              <input type="checkbox" name="events" value={type} checked={values.events.includes(type)} /> {type}
            </label>
          ))}
        </fieldset>
        <div>
          <label for="retry_schedule">Retry schedule (seconds between attempts, comma-separated; empty: the default)</label>
          <input id="retry_schedule" name="retry_schedule" type="text" inputmode="numeric" value={values.retrySchedule} placeholder="5, 300, 1800" />
        </div>
        <div class="actions">
          <button type="submit">{webhookId ? "Save" : "Add endpoint"}</button>
          <a href={webhookId ? `/portal/endpoints/${webhookId}` : "/portal"}>Cancel</a>
        </div>
      </form>
    </Layout>
  );
}
