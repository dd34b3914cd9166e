import { z } from "@hono/zod-openapi";
import type { ErrorCode, FieldIssue } from "../lib/errors";
import { UUID_PATTERN } from "../lib/ids";

/** The one error shape of the API. */
export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "validation_failed" }),
      message: z.string().openapi({ example: "events: at least one event type is required" }),
      fields: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
      request_id: z.string(),
    }),
  })
  .openapi("Error");

/** An error as the API answers it, for the examples of the document. */
type ErrorExample = [code: ErrorCode, message: string, fields?: FieldIssue[]];
const EXAMPLE_REQUEST_ID = "0b8e6a0c-3f0e-4c8e-9a57-2f1c6d7e9b41";
const errorBody = ([code, message, fields]: ErrorExample) => ({ error: { code, message, ...(fields ? { fields } : {}), request_id: EXAMPLE_REQUEST_ID } });

/** The examples of one error response: `example` for one, `examples` keyed by code for several. */
function errorExamples(examples: ErrorExample[]) {
  if (examples.length === 1) return { example: errorBody(examples[0]) };
  const names = examples.map(([code], i) => (examples.findIndex(([other]) => other === code) === i ? code : `${code}_${i + 1}`));
  return { examples: Object.fromEntries(examples.map((e, i) => [names[i], { summary: e[1], value: errorBody(e) }])) };
}

/** An error response with at least one example of what the route answers. */
export const errorResponse = (description: string, ...examples: [ErrorExample, ...ErrorExample[]]) => ({
  description,
  content: { "application/json": { schema: ErrorSchema, ...errorExamples(examples) } },
});

/**
 * The errors of any /api request that sends a body, whatever the route: every /api route limits
 * the body and every /api/v1 route reads a JSON one (app.ts), whether or not the route uses it.
 */
export const sentBodyErrors = {
  400: errorResponse("invalid_json: a JSON body was sent that is not valid JSON or not valid UTF-8 (any route reads a body it is sent)", [
    "invalid_json",
    "Request body is not valid JSON: Unexpected end of JSON input",
  ]),
  413: errorResponse("payload_too_large: the request body is larger than 256 KiB", ["payload_too_large", "Request body is larger than 262144 bytes"]),
  422: errorResponse("validation_failed: a JSON body was sent with a number that is not finite, or nested too deep", [
    "validation_failed",
    "amount: must be a finite number",
    [{ field: "amount", message: "must be a finite number" }],
  ]),
} as const;

/** Error responses shared by every authenticated route. */
export const authErrors = {
  ...sentBodyErrors,
  401: errorResponse(
    "unauthorized: missing, invalid or revoked API key (or admin token), or the key's tenant is disabled",
    ["unauthorized", "Missing API key: send Authorization: Bearer <api key>"],
    ["unauthorized", "Invalid or revoked API key"],
  ),
  429: {
    ...errorResponse(
      "rate_limited: too many requests for this API key (600 per 60 s; POST /webhooks/{id}/test 10 per 10 s), " +
        "or too many failed authentications from this client (20 per 60 s)",
      ["rate_limited", "Too many requests for this API key: at most 600 per 60 s; retry after 60 s"],
      ["rate_limited", "Too many failed authentications from this client: at most 20 per 60 s; retry after 60 s"],
    ),
    headers: z.object({ "Retry-After": z.string().openapi({ description: "Seconds to wait: the limit's period", example: "60" }) }),
  },
} as const;

/** Any route, when something fails that the caller cannot fix (D1 unavailable, a bug): the detail is logged under the request id. */
export const serverError = {
  500: errorResponse("internal_error: the request failed on our side; the detail is logged under request_id", [
    "internal_error",
    "Internal error; quote the request id when reporting it",
  ]),
} as const;

/** Any /api route of a deployment whose vars or secrets are wrong or missing (src/config.ts): the message names them. */
export const misconfiguredError = {
  503: errorResponse(
    "misconfigured: the deployment's configuration is wrong or incomplete; the message names the variable (an operator must fix it, retrying will not help until then)",
    ["misconfigured", 'Deployment misconfigured: DELIVERY_MAX_ATTEMPTS must be a whole number greater than 0, got "3x"'],
    ["misconfigured", "Deployment misconfigured: SECRET_ENCRYPTION_KEY is not set (webhook secrets cannot be sealed or opened)"],
  ),
} as const;

/** 404 with one example per kind of resource the route looks up ("Webhook", "Delivery", ...). */
export const notFoundOf = (...what: [string, ...string[]]) =>
  ({
    404: errorResponse(
      "not_found: unknown id, or a resource of another tenant",
      ...(what.map((w) => ["not_found", `${w} not found`] as ErrorExample) as [ErrorExample, ...ErrorExample[]]),
    ),
  }) as const;

export const notFoundError = notFoundOf("Webhook");

export const bodyErrors = {
  400: errorResponse(
    "invalid_json: the body is not valid JSON (a key repeated with another value included) or not valid UTF-8",
    ["invalid_json", "Request body is not valid JSON: Unexpected end of JSON input"],
    ["invalid_json", "Request body is not valid UTF-8"],
  ),
  413: sentBodyErrors[413],
  415: errorResponse("unsupported_media_type: the body is not sent as application/json", [
    "unsupported_media_type",
    "Request body must be sent as Content-Type: application/json",
  ]),
  422: errorResponse("validation_failed: invalid fields, named in `fields` (a number that is not finite, e.g. 1e400, included)", [
    "validation_failed",
    "events: at least one event type is required",
    [{ field: "events", message: "at least one event type is required" }],
  ]),
} as const;

/** 409 with the message the route answers. */
export const conflictOf = (message: string) =>
  ({ 409: errorResponse("conflict: the resource is not in a state that allows this", ["conflict", message]) }) as const;

export const conflictError = conflictOf("The webhook is inactive; re-enable it (PUT is_active: true) before redelivering");

/** Per-tenant quotas (MAX_WEBHOOKS_PER_TENANT, MAX_FANOUT_PER_EVENT). */
export const quotaError = (what: string, example: string) =>
  ({ 403: errorResponse(`quota_exceeded: ${what}; the message names the limit`, ["quota_exceeded", example]) }) as const;

interface DocumentedRoute {
  path: string;
  security?: Record<string, string[]>[];
  responses: Record<string, unknown>;
}

/**
 * The responses every route can give, declared once: app.ts adds them to each route of its
 * registry (those added later included) where the route does not declare its own.
 * 405 belongs to a path rather than an operation: the document's description tells it.
 */
export function withSharedResponses(route: DocumentedRoute) {
  const secured = (route.security ?? []).length > 0;
  const shared = {
    ...(route.path.startsWith("/api/") ? sentBodyErrors : {}),
    ...(secured ? { 401: authErrors[401], 429: authErrors[429] } : {}),
    ...serverError,
    ...(route.path.startsWith("/api/") ? misconfiguredError : {}),
  };
  route.responses = { ...shared, ...route.responses };
}

export const IdParams = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" }, example: "550e8400-e29b-41d4-a716-446655440000" }),
});

/** skip/limit as in the guide's list endpoints. */
export const pageQuery = (defaultLimit: number) => ({
  skip: z.coerce.number().int().min(0).default(0).openapi({ example: 0 }),
  limit: z.coerce.number().int().min(1).max(100).default(defaultLimit).openapi({ example: defaultLimit }),
});

const cursorId = (description: string) =>
  z
    .string()
    .regex(UUID_PATTERN, "must be an id from a page of this list (a UUID)")
    .optional()
    // The generator writes a case-insensitive regex as "…$/i", a pattern nothing matches: the same pattern, flag spelled out.
    .openapi({
      description,
      example: "01937a5e-8f3c-7a00-9d2e-3b1f0c4a5e6d",
      pattern: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    });

/**
 * skip/limit plus the cursors of long lists (time-ordered ids): `before` pages to older
 * items, `after` back to newer ones. A cursor request is a seek along the primary key and
 * sends no X-Total-Count (a count reads every matching row).
 */
export const cursorPageQuery = (defaultLimit: number) => ({
  ...pageQuery(defaultLimit),
  before: cursorId('Items older than this id (from the Link header\'s rel="next"); no X-Total-Count is sent'),
  after: cursorId('Items newer than this id (from the Link header\'s rel="prev"); no X-Total-Count is sent'),
});

/** Refuses before and after together (one direction per page). */
export const oneCursor = (page: { before?: string; after?: string }, ctx: z.RefinementCtx) => {
  if (page.before !== undefined && page.after !== undefined) ctx.addIssue({ code: "custom", path: ["after"], message: "use before or after, not both" });
};

export const isoTime = z.iso
  .datetime({ offset: true, error: "must be an ISO 8601 time, e.g. 2024-11-24T12:00:00Z" })
  .openapi({ example: "2024-11-24T12:00:00Z" });

/** since/until filters on the creation time, [since, until). */
export const timeRangeQuery = {
  since: isoTime.optional().openapi({ description: "Created at or after this time" }),
  until: isoTime.optional().openapi({ description: "Created before this time" }),
};

export const parseTimeRange = (q: { since?: string; until?: string }) => ({
  since: q.since === undefined ? undefined : Date.parse(q.since),
  until: q.until === undefined ? undefined : Date.parse(q.until),
});

const totalCountHeader = z.string().openapi({ description: "How many items match the filters in all (skip/limit requests)", example: "137" });
const linkHeader = z.string().openapi({
  description:
    'RFC 8288 links to the neighbouring pages: rel="next" (older items, before=) and rel="prev" (newer items, after=), each present when that page may hold items',
  example: '<https://api.example.com/api/v1/events?limit=50&before=01937a5e-8f3c-7a00-9d2e-3b1f0c4a5e6d>; rel="next"',
});

/** The headers of a list answer, declared in OpenAPI. */
export const listHeaders = z.object({ "X-Total-Count": totalCountHeader });
export const cursorListHeaders = z.object({
  "X-Total-Count": totalCountHeader.openapi({
    description: "How many items match the filters in all; sent on skip/limit requests, not on cursor (before/after) requests",
  }),
  Link: linkHeader.optional(),
});

/** X-Total-Count (when counted) and the Link header of a page; `url` is the request's. */
export function pageHeaders(url: string, page: { items: { id: string }[]; total: number | null; hasOlder: boolean; hasNewer: boolean }) {
  const headers: Record<string, string> = {};
  if (page.total !== null) headers["X-Total-Count"] = String(page.total);
  const link = (cursor: "before" | "after", id: string, rel: string) => {
    const target = new URL(url);
    for (const name of ["skip", "before", "after"]) target.searchParams.delete(name);
    target.searchParams.set(cursor, id);
    return `<${target.href}>; rel="${rel}"`;
  };
  const first = page.items[0];
  const last = page.items.at(-1);
  const links = [...(last && page.hasOlder ? [link("before", last.id, "next")] : []), ...(first && page.hasNewer ? [link("after", first.id, "prev")] : [])];
  if (links.length > 0) headers.Link = links.join(", ");
  return headers;
}

/** Query-string booleans: only "true" and "false". */
export const booleanQuery = z
  .enum(["true", "false"])
  .transform((v) => v === "true")
  .optional();

/** A required JSON request body, with an example of it. */
export const jsonBody = <T extends z.ZodType>(schema: T, example: z.input<T>) => ({
  required: true,
  content: { "application/json": { schema, example } },
});

/** A JSON response, with an example of it. */
export const jsonResponse = <T extends z.ZodType>(schema: T, description: string, example: z.output<T>) => ({
  description,
  content: { "application/json": { schema, example } },
});
