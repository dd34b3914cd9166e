import { type Context, Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { MisconfiguredError, reportMisconfiguration } from "../config";
import { DELIVERY_STATUSES, type DeliveryStatus } from "../db/schema";
import { loggableError } from "../lib/error-log";
import { DomainError, type FieldIssue, validationFailed } from "../lib/errors";
import { isUuid } from "../lib/ids";
import { allowed, RATE_LIMITS, rateLimited } from "../middleware/rate-limit";
import { errorStatus } from "../routes/error-response";
import { CreateWebhook, UpdateWebhook } from "../routes/webhooks/webhooks.schemas";
import { listDeliveries, testWebhook } from "../services/deliveries";
import { deliveryAsSent } from "../services/delivery-as-sent";
import { openPortalLink, revokePortalSession } from "../services/portal-sessions";
import { recoverDeliveries, retryDelivery } from "../services/redelivery";
import {
  createWebhook,
  DEFAULT_ROTATION_OVERLAP_SECONDS,
  deleteWebhook,
  getWebhook,
  listWebhooks,
  rotateWebhookSecret,
  updateWebhook,
} from "../services/webhooks";
import { CHART_ASSETS } from "./assets/chart-assets";
import { PORTAL_CSS } from "./assets/portal-css";
import { PORTAL_SCRIPT } from "./assets/portal-script";
import type { WebhookView } from "./components";
import { type ChartRange, hourlyDeliveryCounts, recentDeliveryCounts } from "./endpoint-stats";
import { ASSETS, MessagePage } from "./layout";
import { DeliveryLogPage, type LogFilter } from "./pages/deliveries";
import { DeliveryDetailPage } from "./pages/delivery-detail";
import { DeleteConfirmPage, EndpointDetailPage, type EndpointOutcome } from "./pages/endpoint-detail";
import { EndpointFormPage, type EndpointFormValues } from "./pages/endpoint-form";
import { EndpointsPage } from "./pages/endpoints";
import { EventTypesPage } from "./pages/event-types";
import type { PortalEnv } from "./portal-env";
import { PortalRefusal } from "./refusal";
import { clearSessionCookie, portalSession, readWriteSession, sameOriginPost, setSessionCookie } from "./session";

type PortalContext = Context<PortalEnv>;

/**
 * Every portal response: a strict CSP (scripts and styles from this origin only, never inline;
 * nothing else loads), who may frame it (PORTAL_FRAME_ANCESTORS), no caching (pages hold tenant
 * data), and no Referer to other sites. "same-origin", not "no-referrer": under no-referrer
 * browsers send `Origin: null` with form POSTs, which sameOriginPost would refuse.
 */
const securityHeaders = createMiddleware<PortalEnv>(async (c, next) => {
  await next();
  const frameAncestors = c.env.PORTAL_FRAME_ANCESTORS?.trim() || "'none'";
  c.header(
    "Content-Security-Policy",
    `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors ${frameAncestors}`,
  );
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Referrer-Policy", "same-origin");
  if (!c.req.path.startsWith("/portal/assets/")) c.header("Cache-Control", "no-store");
});

const ENDPOINT_PAGE_LIMIT = 100;
const LOG_PAGE_SIZE = 25;

/** The form's fields as typed, and the API's input built from them (validated by the API's own schemas). */
async function endpointForm(c: PortalContext): Promise<{ values: EndpointFormValues; input: Record<string, unknown> }> {
  const form = await c.req.parseBody({ all: true });
  const text = (name: string) => (typeof form[name] === "string" ? (form[name] as string) : "");
  const events = ([] as unknown[]).concat(form.events ?? []).filter((e): e is string => typeof e === "string");
  const values = { url: text("url"), description: text("description"), events, retrySchedule: text("retry_schedule") };
  const schedule = values.retrySchedule.trim();
  return {
    values,
    input: {
      url: values.url,
      events,
      description: values.description.trim() === "" ? null : values.description.trim(),
      retry_schedule_seconds: schedule === "" ? null : schedule.split(/[\s,]+/).map(Number),
    },
  };
}

const formValuesOf = (w: WebhookView): EndpointFormValues => ({
  url: w.url,
  description: w.description ?? "",
  events: w.events,
  retrySchedule: w.retry_schedule_seconds.join(", "),
});

/** Field problems of a refused save: the schema's, or the service's (e.g. an unsafe URL). */
function saveProblems(error: unknown): FieldIssue[] | null {
  if (error instanceof DomainError && errorStatus(error) < 500 && error.code !== "not_found")
    return error.details.fields ?? [{ field: "endpoint", message: error.message }];
  return null;
}

async function renderEndpoint(c: PortalContext, id: string, outcome?: EndpointOutcome, status: 200 | 409 | 422 = 200) {
  const webhook = await getWebhook(c.var.ctx, id);
  const range: ChartRange = c.req.query("range") === "7d" ? "7d" : "24h";
  const [recent, hourly] = await Promise.all([recentDeliveryCounts(c.var.ctx, [webhook.id]), hourlyDeliveryCounts(c.var.ctx, webhook.id, range)]);
  return c.html(
    <EndpointDetailPage session={c.var.session} webhook={webhook} recent={recent.get(webhook.id)!} hourly={hourly} range={range} outcome={outcome} />,
    status,
  );
}

/** Runs a service action; a refusal it reports (409, 422) is shown on the endpoint's page instead of an error page. */
async function onEndpoint(c: PortalContext, id: string, action: () => Promise<EndpointOutcome | undefined>) {
  try {
    const outcome = await action();
    return outcome ? renderEndpoint(c, id, outcome) : c.redirect(`/portal/endpoints/${id}`, 303);
  } catch (error) {
    if (error instanceof DomainError && (error.code === "conflict" || error.code === "validation_failed")) {
      return renderEndpoint(c, id, { kind: "refused", message: error.message }, errorStatus(error) as 409 | 422);
    }
    throw error;
  }
}

export const portalRoutes = new Hono<PortalEnv>()
  .use("/portal/*", securityHeaders)
  .use("/portal", securityHeaders)
  .get(ASSETS.css, (c) => c.body(PORTAL_CSS, 200, { "Content-Type": "text/css; charset=utf-8", "Cache-Control": "public, max-age=300" }))
  .get(CHART_ASSETS.css.path, (c) =>
    c.body(CHART_ASSETS.css.body, 200, { "Content-Type": CHART_ASSETS.css.contentType, "Cache-Control": "public, max-age=31536000, immutable" }),
  )
  .get(CHART_ASSETS.script.path, (c) =>
    c.body(CHART_ASSETS.script.body, 200, { "Content-Type": CHART_ASSETS.script.contentType, "Cache-Control": "public, max-age=31536000, immutable" }),
  )
  .get(ASSETS.script, (c) => c.body(PORTAL_SCRIPT, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "public, max-age=300" }))
  // The one-time link: its token becomes a session cookie, and the address bar loses the token (303 to /portal).
  .get("/portal/open", async (c) => {
    const opened = await openPortalLink(c.var.db, c.req.query("token") ?? "");
    if (!opened)
      throw new PortalRefusal(403, "This link cannot be used", "This portal link was used already, has expired, or is not valid. Ask for a new link.");
    setSessionCookie(c, opened.cookie);
    return c.redirect("/portal", 303);
  })
  .use("/portal", portalSession)
  .use("/portal/*", portalSession)
  .use("/portal/*", sameOriginPost)
  .post("/portal/sign-out", async (c) => {
    await revokePortalSession(c.var.ctx, c.var.session.id);
    clearSessionCookie(c);
    return c.html(<MessagePage title="Signed out" detail="Your portal session has ended. Open a new portal link to come back." />);
  })
  .use("/portal/*", readWriteSession)
  .get("/portal", async (c) => {
    const page = await listWebhooks(c.var.ctx, { skip: 0, limit: ENDPOINT_PAGE_LIMIT });
    const recent = await recentDeliveryCounts(
      c.var.ctx,
      page.items.map((w) => w.id),
    );
    return c.html(<EndpointsPage session={c.var.session} webhooks={page.items} total={page.total} recent={recent} />);
  })
  .get("/portal/event-types", (c) => c.html(<EventTypesPage session={c.var.session} />))
  .get("/portal/endpoints/new", (c) =>
    c.html(<EndpointFormPage session={c.var.session} values={{ url: "", description: "", events: [], retrySchedule: "" }} />),
  )
  .post("/portal/endpoints", async (c) => {
    const { values, input } = await endpointForm(c);
    try {
      const created = await createWebhook(c.var.ctx, parsed(CreateWebhook.safeParse(input)));
      return renderEndpoint(c, created.id, { kind: "created", secret: created.secret_key });
    } catch (error) {
      const problems = saveProblems(error);
      if (!problems) throw error;
      return c.html(<EndpointFormPage session={c.var.session} values={values} problems={problems} />, 422);
    }
  })
  .get("/portal/endpoints/:id", (c) => renderEndpoint(c, c.req.param("id")))
  .get("/portal/endpoints/:id/edit", async (c) => {
    const webhook = await getWebhook(c.var.ctx, c.req.param("id"));
    return c.html(<EndpointFormPage session={c.var.session} webhookId={webhook.id} values={formValuesOf(webhook)} />);
  })
  .post("/portal/endpoints/:id", async (c) => {
    const id = c.req.param("id");
    const { values, input } = await endpointForm(c);
    try {
      await updateWebhook(c.var.ctx, id, parsed(UpdateWebhook.safeParse(input)));
      return c.redirect(`/portal/endpoints/${id}`, 303);
    } catch (error) {
      const problems = saveProblems(error);
      if (!problems) throw error;
      return c.html(<EndpointFormPage session={c.var.session} webhookId={id} values={values} problems={problems} />, 422);
    }
  })
  .post("/portal/endpoints/:id/enable", (c) =>
    onEndpoint(c, c.req.param("id"), async () => void (await updateWebhook(c.var.ctx, c.req.param("id"), { is_active: true }))),
  )
  .post("/portal/endpoints/:id/disable", (c) =>
    onEndpoint(c, c.req.param("id"), async () => void (await updateWebhook(c.var.ctx, c.req.param("id"), { is_active: false }))),
  )
  .get("/portal/endpoints/:id/delete", async (c) => {
    const webhook = await getWebhook(c.var.ctx, c.req.param("id"));
    return c.html(<DeleteConfirmPage session={c.var.session} webhook={webhook} />);
  })
  .post("/portal/endpoints/:id/delete", async (c) => {
    await deleteWebhook(c.var.ctx, c.req.param("id"));
    return c.redirect("/portal", 303);
  })
  .post("/portal/endpoints/:id/test", (c) =>
    onEndpoint(c, c.req.param("id"), async () => {
      // The API's limit on test deliveries, counted per tenant for its portal sessions (they have no API key).
      if (!(await allowed(c.env, RATE_LIMITS.testEndpoint, `portal:${c.var.tenantId}`))) throw rateLimited(RATE_LIMITS.testEndpoint);
      const r = await testWebhook(c.var.ctx, c.req.param("id"));
      return { kind: "tested", success: r.success, statusCode: r.status_code, error: r.error, ms: r.response_time_ms, deliveryId: r.delivery_id };
    }),
  )
  .post("/portal/endpoints/:id/rotate-secret", (c) =>
    onEndpoint(c, c.req.param("id"), async () => {
      const r = await rotateWebhookSecret(c.var.ctx, c.req.param("id"), DEFAULT_ROTATION_OVERLAP_SECONDS);
      return { kind: "rotated", secret: r.secret_key, previousUntil: r.previous_secret_expires_at };
    }),
  )
  .post("/portal/endpoints/:id/recover", (c) =>
    onEndpoint(c, c.req.param("id"), async () => {
      const form = await c.req.parseBody();
      // datetime-local has no zone: the page asks for UTC.
      const since = typeof form.since === "string" ? Date.parse(`${form.since}Z`) : NaN;
      if (!Number.isFinite(since) || since >= Date.now()) throw new DomainError("validation_failed", "since: give a time in the past (UTC)");
      const r = await recoverDeliveries(c.var.ctx, c.req.param("id"), { since, until: Date.now() });
      return { kind: "recovered", queued: r.deliveries_queued, hasMore: r.has_more };
    }),
  )
  .get("/portal/endpoints/:id/deliveries", async (c) => {
    const filter = logFilter(c);
    const webhook = await getWebhook(c.var.ctx, c.req.param("id"));
    const page = await listDeliveries(c.var.ctx, webhook.id, {
      skip: 0,
      limit: LOG_PAGE_SIZE,
      status: filter.status,
      event: filter.event,
      since: utcInput(filter.since),
      until: utcInput(filter.until),
      before: filter.before,
      after: filter.after,
    });
    return c.html(<DeliveryLogPage session={c.var.session} webhook={webhook} page={page} filter={filter} />);
  })
  .get("/portal/endpoints/:id/deliveries/:deliveryId", async (c) => {
    const sent = await deliveryAsSent(c.var.ctx, c.req.param("id"), c.req.param("deliveryId"));
    return c.html(<DeliveryDetailPage session={c.var.session} sent={sent} />);
  })
  .post("/portal/endpoints/:id/deliveries/:deliveryId/retry", async (c) => {
    const { id, deliveryId } = c.req.param();
    try {
      await retryDelivery(c.var.ctx, id, deliveryId);
    } catch (error) {
      if (!(error instanceof DomainError && error.code === "conflict")) throw error;
      const sent = await deliveryAsSent(c.var.ctx, id, deliveryId);
      return c.html(<DeliveryDetailPage session={c.var.session} sent={sent} refusal={error.message} />, 409);
    }
    return c.redirect(`/portal/endpoints/${id}/deliveries/${deliveryId}`, 303);
  })
  // Past every page: the portal's own 404 page, not the API's JSON.
  .all("/portal/*", () => {
    throw new PortalRefusal(404, "Not found", "There is no such page in the portal.");
  })
  .onError((error, c) => {
    if (error instanceof PortalRefusal) return c.html(<MessagePage title={error.title} detail={error.detail} />, error.status);
    if (error instanceof MisconfiguredError) {
      reportMisconfiguration("fetch", error);
      return c.html(<MessagePage title="Misconfigured" detail={error.message} />, 503);
    }
    if (error instanceof DomainError && errorStatus(error) < 500) {
      return c.html(
        <MessagePage title={error.code === "not_found" ? "Not found" : "Refused"} detail={error.message} session={c.var.session} />,
        errorStatus(error),
      );
    }
    console.error(JSON.stringify({ request_id: c.var.requestId, ...loggableError(error) }));
    return c.html(<MessagePage title="Something went wrong" detail={`Internal error; quote request id ${c.var.requestId} when reporting it.`} />, 500);
  });

/** A zod result's data, or the API's 422 naming the fields. */
function parsed<T>(result: { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } }): T {
  if (result.success) return result.data;
  const fields = result.error.issues.map((i) => ({ field: i.path.join(".") || "(form)", message: i.message }));
  throw validationFailed(fields);
}

const isDeliveryStatus = (value: string | undefined): value is DeliveryStatus => DELIVERY_STATUSES.includes(value as DeliveryStatus);

/** The log's query string, unknown values dropped (the page is a view: it never refuses a filter). */
function logFilter(c: PortalContext): LogFilter {
  const status = c.req.query("status");
  const text = (name: string) => c.req.query(name)?.slice(0, 100) || undefined;
  const cursor = (name: string) => {
    const id = c.req.query(name);
    return id && isUuid(id) ? id : undefined;
  };
  return {
    status: isDeliveryStatus(status) ? status : undefined,
    event: text("event"),
    since: text("since"),
    until: text("until"),
    before: cursor("before"),
    after: cursor("after"),
  };
}

/** A datetime-local value read as UTC (the page says so), epoch ms; undefined when empty or not a time. */
function utcInput(value: string | undefined): number | undefined {
  const time = value ? Date.parse(`${value}Z`) : NaN;
  return Number.isFinite(time) ? time : undefined;
}
