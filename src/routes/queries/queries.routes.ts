import { createRoute, z } from "@hono/zod-openapi";
import {
  authErrors,
  bodyErrors,
  conflictOf,
  cursorListHeaders,
  errorResponse,
  IdParams,
  jsonBody,
  jsonResponse,
  notFoundOf,
  quotaError,
} from "../common.schemas";
import { EXAMPLE_IDS, EXAMPLE_TIMES, publishedRefExample, queryExample } from "../examples";
import {
  CreateQuery,
  EscalateQuery,
  FeedbackCreated,
  ListQueriesQuery,
  Query,
  QueryDetail,
  QueryFeedback,
  QueryWithEvents,
  ResolveQuery,
} from "./queries.schemas";

const tags = ["Support queries"];
const security = [{ apiKey: [] }];
const QueryParams = IdParams.extend({ id: z.string().openapi({ param: { name: "id", in: "path" }, example: "conv_abc123" }) });
/** A change is refused whole when one of its events would go to more webhooks than MAX_FANOUT_PER_EVENT. */
const fanoutQuota = quotaError(
  "an event of this change would go to more than MAX_FANOUT_PER_EVENT subscribed active webhooks",
  "Fan-out quota exceeded: an event may go to at most 1000 subscribed active webhooks (MAX_FANOUT_PER_EVENT)",
);
const queryNotFound = notFoundOf("Query");
const escalatedExample = {
  ...queryExample,
  status: "escalated" as const,
  escalated: true,
  escalation_reason: "Customer asked for a human",
  escalated_at: EXAMPLE_TIMES.T1,
};

export const create = createRoute({
  operationId: "createQuery",
  method: "post",
  path: "/api/v1/queries",
  tags,
  security,
  summary: "Store and triage a query; publishes query.created (and query.escalated if triage escalates)",
  request: { body: jsonBody(CreateQuery, { user_id: "user_456", query: "My application keeps crashing when I try to export data" }) },
  responses: {
    201: jsonResponse(QueryWithEvents, "The stored query and the events it produced", { ...queryExample, events: [publishedRefExample] }),
    ...authErrors,
    ...bodyErrors,
    ...fanoutQuota,
  },
});

export const list = createRoute({
  operationId: "listQueries",
  method: "get",
  path: "/api/v1/queries",
  tags,
  security,
  summary: "List queries, newest first",
  request: { query: ListQueriesQuery },
  description:
    "Paged with skip/limit (X-Total-Count: every matching query) or with the before/after cursors of the Link header " +
    "(a query id; an unknown one matches nothing), which cost the same D1 rows at any depth and send no X-Total-Count.",
  responses: {
    200: { ...jsonResponse(z.array(Query), "A page of queries", [queryExample]), headers: cursorListHeaders },
    ...authErrors,
    422: errorResponse("validation_failed: a query parameter is invalid (named in `fields`), or a JSON body was sent that is not acceptable", [
      "validation_failed",
      "limit: Too big: expected number to be <=100",
      [{ field: "limit", message: "Too big: expected number to be <=100" }],
    ]),
  },
});

export const get = createRoute({
  operationId: "getQuery",
  method: "get",
  path: "/api/v1/queries/{id}",
  tags,
  security,
  summary: "A query with its feedback and the events it produced",
  request: { params: QueryParams },
  responses: {
    200: jsonResponse(QueryDetail, "The query", {
      ...queryExample,
      feedback: null,
      events: [
        {
          event_id: EXAMPLE_IDS.EVENT_ID,
          event: "query.created",
          data: { query_id: "conv_abc123", user_id: "user_456" },
          deliveries_scheduled: 1,
          created_at: EXAMPLE_TIMES.T0,
        },
      ],
    }),
    ...authErrors,
    ...queryNotFound,
  },
});

const change = <T extends z.ZodType>(operationId: string, path: string, summary: string, body: T, example: z.input<T>, after: z.output<typeof Query>) =>
  createRoute({
    operationId,
    method: "post",
    path,
    tags,
    security,
    summary,
    request: { params: QueryParams, body: jsonBody(body, example) },
    responses: {
      200: jsonResponse(QueryWithEvents, "The query after the change", {
        ...after,
        events: [{ ...publishedRefExample, event: after.status === "resolved" ? "query.resolved" : "query.escalated" }],
      }),
      ...authErrors,
      ...queryNotFound,
      ...conflictOf("The query is already resolved"),
      ...bodyErrors,
      ...fanoutQuota,
    },
  });

export const escalate = change(
  "escalateQuery",
  "/api/v1/queries/{id}/escalate",
  "Escalate to human support; publishes query.escalated",
  EscalateQuery,
  { reason: "Customer asked for a human" },
  escalatedExample,
);
export const resolve = change(
  "resolveQuery",
  "/api/v1/queries/{id}/resolve",
  "Resolve; publishes query.resolved",
  ResolveQuery,
  { response: "Fixed in 2.4.1: update and export again" },
  {
    ...escalatedExample,
    status: "resolved",
    response: "Fixed in 2.4.1: update and export again",
    resolution_time_seconds: 330.5,
    resolved_at: EXAMPLE_TIMES.T1,
  },
);

export const addFeedback = createRoute({
  operationId: "addQueryFeedback",
  method: "post",
  path: "/api/v1/queries/{id}/feedback",
  tags,
  security,
  summary: "Rate a resolved or escalated query (once); publishes feedback.received",
  request: { params: QueryParams, body: jsonBody(QueryFeedback, { rating: 5, feedback_text: "Quick and helpful" }) },
  responses: {
    201: jsonResponse(FeedbackCreated, "The feedback", {
      id: "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
      query_id: "conv_abc123",
      rating: 5,
      feedback_text: "Quick and helpful",
      created_at: EXAMPLE_TIMES.T1,
      events: [{ ...publishedRefExample, event: "feedback.received" }],
    }),
    ...authErrors,
    ...queryNotFound,
    ...conflictOf("Feedback was already given for this query"),
    ...bodyErrors,
    ...fanoutQuota,
  },
});
