import { createRoute, z } from "@hono/zod-openapi";
import { authErrors, bodyErrors, conflictError, cursorListHeaders, errorResponse, IdParams, jsonBody, jsonResponse, notFoundError, quotaError } from "../common.schemas";
import { CreateQuery, EscalateQuery, FeedbackCreated, ListQueriesQuery, Query, QueryDetail, QueryFeedback, QueryWithEvents, ResolveQuery } from "./queries.schemas";

const tags = ["Support queries"];
const security = [{ apiKey: [] }];
const QueryParams = IdParams.extend({ id: z.string().openapi({ param: { name: "id", in: "path" }, example: "conv_abc123" }) });
/** A change is refused whole when one of its events would go to more webhooks than MAX_FANOUT_PER_EVENT. */
const fanoutQuota = quotaError("an event of this change would go to more than MAX_FANOUT_PER_EVENT subscribed active webhooks");

export const create = createRoute({
  method: "post",
  path: "/api/v1/queries",
  tags,
  security,
  summary: "Store and triage a query; publishes query.created (and query.escalated if triage escalates)",
  request: { body: jsonBody(CreateQuery) },
  responses: { 201: jsonResponse(QueryWithEvents, "The stored query and the events it produced"), ...authErrors, ...bodyErrors, ...fanoutQuota },
});

export const list = createRoute({
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
    200: { ...jsonResponse(z.array(Query), "A page of queries"), headers: cursorListHeaders },
    ...authErrors,
    422: errorResponse("validation_failed: a query parameter is invalid (named in `fields`), or a JSON body was sent that is not acceptable"),
  },
});

export const get = createRoute({
  method: "get",
  path: "/api/v1/queries/{id}",
  tags,
  security,
  summary: "A query with its feedback and the events it produced",
  request: { params: QueryParams },
  responses: { 200: jsonResponse(QueryDetail, "The query"), ...authErrors, ...notFoundError },
});

const change = (path: string, summary: string, body: z.ZodType) =>
  createRoute({
    method: "post",
    path,
    tags,
    security,
    summary,
    request: { params: QueryParams, body: jsonBody(body) },
    responses: { 200: jsonResponse(QueryWithEvents, "The query after the change"), ...authErrors, ...notFoundError, ...conflictError, ...bodyErrors, ...fanoutQuota },
  });

export const escalate = change("/api/v1/queries/{id}/escalate", "Escalate to human support; publishes query.escalated", EscalateQuery);
export const resolve = change("/api/v1/queries/{id}/resolve", "Resolve; publishes query.resolved", ResolveQuery);

export const addFeedback = createRoute({
  method: "post",
  path: "/api/v1/queries/{id}/feedback",
  tags,
  security,
  summary: "Rate a resolved or escalated query (once); publishes feedback.received",
  request: { params: QueryParams, body: jsonBody(QueryFeedback) },
  responses: { 201: jsonResponse(FeedbackCreated, "The feedback"), ...authErrors, ...notFoundError, ...conflictError, ...bodyErrors, ...fanoutQuota },
});
