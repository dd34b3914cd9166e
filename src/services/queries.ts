import { and, asc, count, desc, eq, gt, inArray, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { events, type FeedbackRow, feedback, type QueryRow, type QueryStatus, queries } from "../db/schema";
import { isCursorRequest, type Page, type PageRequest, pageOf } from "./paging";

/** The states of a support query, for the API to validate and document. */
export { QUERY_STATUSES } from "../db/schema";

import { randomToken } from "../lib/crypto";
import { DomainError, notFound } from "../lib/errors";
import { newId } from "../lib/ids";
import { formatOptionalTime, formatTime } from "../lib/time";
import { type Category, ruleBasedTriage, type Sentiment, type TriageAgent } from "../triage/triage";
import type { ServiceContext } from "./context";
import { type EventSpec, publishEvents } from "./events";

const DAY_MS = 24 * 60 * 60 * 1000;
const QUERY_ID_PATTERN = /^conv_[A-Za-z0-9_-]{6,64}$/;

export interface NewQuery {
  user_id: string;
  query: string;
  category?: Category;
  sentiment?: Sentiment;
  priority?: number;
  is_vip?: boolean;
}

export function queryView(row: QueryRow) {
  return {
    id: row.id,
    user_id: row.userId,
    query: row.query,
    category: row.category,
    sentiment: row.sentiment,
    priority: row.priority,
    is_vip: row.isVip,
    status: row.status,
    escalated: row.escalated,
    escalation_reason: row.escalationReason,
    response: row.response,
    resolution_time_seconds: row.resolutionTimeSeconds,
    created_at: formatTime(row.createdAt),
    escalated_at: formatOptionalTime(row.escalatedAt),
    resolved_at: formatOptionalTime(row.resolvedAt),
  };
}

// The guide's event payloads, field for field, built from the stored query.
const createdData = (q: QueryRow) => ({
  query_id: q.id,
  user_id: q.userId,
  category: q.category,
  sentiment: q.sentiment,
  priority: q.priority,
  query: q.query,
});
const escalatedData = (q: QueryRow) => ({
  query_id: q.id,
  user_id: q.userId,
  category: q.category,
  sentiment: q.sentiment,
  priority: q.priority,
  escalation_reason: q.escalationReason,
  query: q.query,
});
const resolvedData = (q: QueryRow) => ({
  query_id: q.id,
  user_id: q.userId,
  category: q.category,
  resolution_time_seconds: q.resolutionTimeSeconds,
  response: q.response,
});
const feedbackData = (q: QueryRow, f: Pick<FeedbackRow, "rating" | "feedbackText">) => ({
  query_id: q.id,
  user_id: q.userId,
  rating: f.rating,
  feedback_text: f.feedbackText,
  category: q.category,
});

const event = (type: string, q: QueryRow, data: Record<string, unknown>): EventSpec => ({ type, data, queryId: q.id });

async function recentQueryCount(db: Database, tenantId: string, userId: string, now: number): Promise<number> {
  const [{ n }] = await db
    .select({ n: count() })
    .from(queries)
    .where(and(eq(queries.tenantId, tenantId), eq(queries.userId, userId), gt(queries.createdAt, now - DAY_MS)));
  return n;
}

/** Stores and triages a query, and publishes query.created (and query.escalated if triage escalates) atomically with it. */
export async function createQuery({ db, env, config, tenantId }: ServiceContext, input: NewQuery, agent: TriageAgent = ruleBasedTriage) {
  const now = Date.now();
  const triage = await agent.triage({
    query: input.query,
    isVip: input.is_vip ?? false,
    recentQueryCount: await recentQueryCount(db, tenantId, input.user_id, now),
    supplied: { category: input.category, sentiment: input.sentiment, priority: input.priority },
  });
  const row: QueryRow = {
    id: randomToken("conv_", 9),
    tenantId,
    userId: input.user_id,
    query: input.query,
    category: triage.category,
    sentiment: triage.sentiment,
    priority: triage.priority,
    isVip: input.is_vip ?? false,
    status: triage.escalate ? "escalated" : "open",
    escalated: triage.escalate,
    escalationReason: triage.escalationReason,
    response: null,
    resolutionTimeSeconds: null,
    createdAt: now,
    escalatedAt: triage.escalate ? now : null,
    resolvedAt: null,
  };
  const specs = [event("query.created", row, createdData(row))];
  if (triage.escalate) specs.push(event("query.escalated", row, escalatedData(row)));
  const published = await publishEvents(env, config, tenantId, specs, { statement: db.insert(queries).values(row), at: now });
  return { ...queryView(row), events: published! };
}

export async function findQuery({ db, tenantId }: ServiceContext, id: string): Promise<QueryRow> {
  if (!QUERY_ID_PATTERN.test(id)) throw notFound("Query");
  const [row] = await db
    .select()
    .from(queries)
    .where(and(eq(queries.id, id), eq(queries.tenantId, tenantId)))
    .limit(1);
  if (!row) throw notFound("Query");
  return row;
}

/**
 * Moves a query from one of `from` to its next state and publishes the event in the same
 * D1 batch. The UPDATE's WHERE is the state rule: if another request moved the query
 * first, nothing changes and no event is stored (409).
 */
async function transition(
  { db, env, config }: ServiceContext,
  current: QueryRow,
  from: QueryStatus[],
  changes: Partial<QueryRow>,
  at: number,
  eventFor: (next: QueryRow) => EventSpec,
) {
  const next: QueryRow = { ...current, ...changes };
  const update = db
    .update(queries)
    .set(changes)
    .where(and(eq(queries.id, current.id), eq(queries.tenantId, current.tenantId), inArray(queries.status, from)));
  const published = await publishEvents(env, config, current.tenantId, [eventFor(next)], { statement: update, at });
  if (!published) throw new DomainError("conflict", "The query changed state concurrently; reload it and try again");
  return { ...queryView(next), events: published };
}

function refuse(message: string): never {
  throw new DomainError("conflict", message);
}

export async function escalateQuery(ctx: ServiceContext, id: string, reason: string) {
  const q = await findQuery(ctx, id);
  if (q.status === "resolved") refuse("A resolved query cannot be escalated");
  if (q.status === "escalated") refuse("The query is already escalated");
  const now = Date.now();
  const changes = { status: "escalated" as const, escalated: true, escalationReason: reason, escalatedAt: now };
  return transition(ctx, q, ["open"], changes, now, (next) => event("query.escalated", next, escalatedData(next)));
}

export async function resolveQuery(ctx: ServiceContext, id: string, response: string) {
  const q = await findQuery(ctx, id);
  if (q.status === "resolved") refuse("The query is already resolved");
  const now = Date.now();
  // Seconds from creation, to a tenth (the guide's 330.5).
  const resolutionTimeSeconds = Math.round((now - q.createdAt) / 100) / 10;
  const changes = { status: "resolved" as const, response, resolvedAt: now, resolutionTimeSeconds };
  return transition(ctx, q, ["open", "escalated"], changes, now, (next) => event("query.resolved", next, resolvedData(next)));
}

export async function addFeedback(ctx: ServiceContext, id: string, rating: number, feedbackText: string | null) {
  const { env, config, tenantId } = ctx;
  const q = await findQuery(ctx, id);
  if (q.status === "open") refuse("Feedback is accepted only after the query was resolved or escalated");
  const row: FeedbackRow = { id: newId(), tenantId, queryId: q.id, rating, feedbackText, createdAt: Date.now() };
  // The unique index on query_id makes "once per query" hold even under concurrent requests.
  const insert = sql`INSERT OR IGNORE INTO ${feedback} (id, tenant_id, query_id, rating, feedback_text, created_at)
    VALUES (${row.id}, ${tenantId}, ${q.id}, ${rating}, ${feedbackText}, ${row.createdAt})`;
  const published = await publishEvents(env, config, tenantId, [event("feedback.received", q, feedbackData(q, row))], { statement: insert, at: row.createdAt });
  if (!published) refuse("Feedback was already given for this query");
  return { id: row.id, query_id: q.id, rating, feedback_text: feedbackText, created_at: formatTime(row.createdAt), events: published };
}

export interface QueryFilter extends PageRequest {
  status?: QueryStatus;
  category?: string;
  user_id?: string;
  escalated?: boolean;
}

/**
 * Where a cursor (a query id) sits in the newest-first order (created_at, id). Query ids are
 * random (the guide's conv_…), so the position is the cursor query's created_at, read by
 * primary key in the same statement; an unknown cursor matches nothing.
 */
function queryCursor(tenantId: string, f: PageRequest) {
  const cursorId = f.after ?? f.before;
  if (cursorId === undefined) return { where: undefined, orderBy: [desc(queries.createdAt), desc(queries.id)] };
  const at = sql`(SELECT created_at FROM ${queries} WHERE id = ${cursorId} AND tenant_id = ${tenantId})`;
  if (f.after !== undefined) {
    return {
      where: sql`${queries.createdAt} >= ${at} AND (${queries.createdAt} > ${at} OR ${queries.id} > ${cursorId})`,
      orderBy: [asc(queries.createdAt), asc(queries.id)],
    };
  }
  return {
    where: sql`${queries.createdAt} <= ${at} AND (${queries.createdAt} < ${at} OR ${queries.id} < ${cursorId})`,
    orderBy: [desc(queries.createdAt), desc(queries.id)],
  };
}

/** GET /queries, newest first, along the index queries_tenant (tenant_id, created_at). The total is counted on skip/limit requests only. */
export async function listQueries({ db, tenantId }: ServiceContext, f: QueryFilter): Promise<Page<ReturnType<typeof queryView>>> {
  const matching = and(
    eq(queries.tenantId, tenantId),
    f.status ? eq(queries.status, f.status) : undefined,
    f.category ? eq(queries.category, f.category) : undefined,
    f.user_id ? eq(queries.userId, f.user_id) : undefined,
    f.escalated === undefined ? undefined : eq(queries.escalated, f.escalated),
  );
  const cursor = queryCursor(tenantId, f);
  const page = db
    .select()
    .from(queries)
    .where(and(matching, cursor.where))
    .orderBy(...cursor.orderBy)
    .limit(f.limit + 1)
    .offset(f.skip);
  if (isCursorRequest(f)) {
    const [rows] = await db.batch([page]);
    return pageOf(rows.map(queryView), f, null);
  }
  const [rows, [{ total }]] = await db.batch([page, db.select({ total: count() }).from(queries).where(matching)]);
  return pageOf(rows.map(queryView), f, total);
}

/** A query with its feedback and the events it produced, in one round trip. */
export async function getQueryDetail({ db, tenantId }: ServiceContext, id: string) {
  if (!QUERY_ID_PATTERN.test(id)) throw notFound("Query");
  const [[row], [rating], produced] = await db.batch([
    db
      .select()
      .from(queries)
      .where(and(eq(queries.id, id), eq(queries.tenantId, tenantId)))
      .limit(1),
    db
      .select()
      .from(feedback)
      .where(and(eq(feedback.queryId, id), eq(feedback.tenantId, tenantId)))
      .limit(1),
    db
      .select()
      .from(events)
      .where(and(eq(events.queryId, id), eq(events.tenantId, tenantId)))
      .orderBy(asc(events.id)), // time-ordered ids
  ]);
  if (!row) throw notFound("Query");
  return {
    ...queryView(row),
    feedback: rating ? { id: rating.id, rating: rating.rating, feedback_text: rating.feedbackText, created_at: formatTime(rating.createdAt) } : null,
    events: produced.map((e) => ({
      event_id: e.id,
      event: e.type,
      data: e.data,
      deliveries_scheduled: e.deliveriesScheduled,
      created_at: formatTime(e.createdAt),
    })),
  };
}
