import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { ERROR_STATUS } from "../../src/routes/error-response";
import { deliveryLog, exampleData, published, storedDeliveryCount } from "../helpers/delivery";
import { ADMIN_TOKEN, api, createTenant, createWebhook, receiver, type Tenant, uniqueKey } from "../helpers/harness";
import { createQuery, TEXTS } from "../helpers/queries";

/**
 * Property-based: random and malformed bodies, query strings, headers and ids thrown at every
 * route of the OpenAPI document. Every answer is a status the route documents (4xx, or 2xx for
 * the rare valid input), never a 5xx; every error has the one JSON shape; and a refused request
 * stores nothing (both fixture tenants' rows, counted table by table, and the tenant count).
 *
 * Bounded: about RUNS requests in all, spread over the routes. A failure names the route, the
 * seed and the shrunk request; set SEED below to that seed to replay it.
 */
const RUNS = 200;
const SEED: number | undefined = undefined;

interface Operation {
  method: string;
  path: string;
  statuses: number[];
  query: string[];
  hasBody: boolean;
}

/** What a path parameter names. Admin routes act on the other tenant (never on the fuzzed one, which a disable would lock out). */
type IdKind = "webhook" | "delivery" | "query" | "apiKey" | "tenant";

interface Fixtures {
  /** The fuzzed tenant: its key authenticates most requests, its rows are counted. */
  tenant: Tenant;
  /** The tenant the other ids belong to (and the admin routes act on): its rows are counted too. */
  otherTenantId: string;
  /** Ids of the fuzzed tenant's resources, by path parameter: valid ids, so some requests succeed. */
  own: Record<IdKind, string>;
  /** The same for another tenant: each must be a 404 to the fuzzed tenant (tenant: an unknown id). */
  other: Record<IdKind, string>;
}

let operations: Operation[] = [];
let fixtures: Fixtures;

async function documentedOperations(): Promise<Operation[]> {
  const doc = (await (await api("/openapi.json")).json()) as {
    paths: Record<string, Record<string, { responses: Record<string, unknown>; parameters?: { in: string; name: string }[]; requestBody?: unknown }>>;
  };
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      statuses: Object.keys(op.responses).map(Number),
      query: (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name),
      hasBody: op.requestBody !== undefined,
    })),
  );
}

async function resourcesOf(tenant: Tenant) {
  const webhook = await createWebhook(tenant, { url: receiver.url(uniqueKey("fuzz"), "200"), events: ["query.created", "query.escalated"] });
  await published(tenant, "query.created");
  const [delivery] = await deliveryLog(tenant, webhook.id);
  const query = await createQuery(tenant, { query: TEXTS.crash });
  const key = await api("/api/v1/api-keys", { method: "POST", key: tenant.key, json: { name: "spare" } });
  const apiKey = ((await key.json()) as { id: string }).id;
  return { webhook: webhook.id, delivery: delivery.id, query: query.id, apiKey };
}

/**
 * Rows a request could store: both tenants', table by table, and the tenants themselves.
 * Deliveries are counted written or not yet (storedDeliveryCount): an accepted publish's
 * deliveries get their rows from the consumer while later requests run, which stores nothing new.
 */
async function storedCounts(): Promise<Record<string, number>> {
  const tables = ["api_keys", "webhooks", "events", "queries", "feedback"];
  const select = tables.map((t) => `(SELECT COUNT(*) FROM ${t} WHERE tenant_id IN (?1, ?2)) AS ${t}`).join(", ");
  const row = await env.DB.prepare(`SELECT ${select}, (SELECT COUNT(*) FROM tenants) AS tenants`)
    .bind(fixtures.tenant.id, fixtures.otherTenantId)
    .first<Record<string, number>>();
  const deliveries = (await storedDeliveryCount(fixtures.tenant.id)) + (await storedDeliveryCount(fixtures.otherTenantId));
  return { ...row!, deliveries };
}

// ---- arbitraries -------------------------------------------------------------------------

const ascii = (maxLength = 40) => fc.string({ unit: "grapheme-ascii", maxLength });
const anyText = (maxLength = 40) => fc.string({ unit: "grapheme", maxLength });

/** A path segment: another tenant's id, our own, a random uuid, or junk (encoded). */
const idArb = (kind: IdKind) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(fixtures.own[kind]) },
    { weight: 2, arbitrary: fc.constant(fixtures.other[kind]) },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.constantFrom("...", "%2F", "%00", "null", "0", "-1", "%E2%80%AE", "a".repeat(600)) },
    // Not "." or ".." (or %2e forms): the URL parser removes dot segments, so the request would go to another path.
    {
      weight: 2,
      arbitrary: anyText(60)
        .filter((s) => s.length > 0 && !/^(\.|%2e){1,2}$/i.test(s))
        .map(encodeURIComponent),
    },
  );

function kindFor(op: Operation, param: string): IdKind {
  if (param === "delivery_id") return "delivery";
  if (op.path.startsWith("/api/v1/queries")) return "query";
  if (op.path.startsWith("/api/v1/api-keys")) return "apiKey";
  if (op.path.startsWith("/api/v1/admin/")) return "tenant";
  return "webhook";
}

const queryValue = fc.oneof(
  ascii(12),
  fc.integer({ min: -5, max: 200 }).map(String),
  fc.constantFrom("true", "false", "1e999", "NaN", "", "99999999999999999999", "pending", "failed", "query.created", "Billing", "open"),
);

const queryArb = (op: Operation) =>
  fc
    .array(fc.tuple(fc.oneof(fc.constantFrom(...(op.query.length ? op.query : ["x"])), ascii(10)), queryValue), { maxLength: 4 })
    .map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&"));

/** Bodies that are nearly right for the route: each field's name is real, its value may be anything. */
function nearlyValid(op: Operation): Record<string, unknown> {
  const p = op.path;
  if (p === "/api/v1/admin/tenants" || p === "/api/v1/api-keys") return { name: "fuzz" };
  if (p === "/api/v1/webhooks" || p === "/api/v1/webhooks/{id}")
    return {
      url: "https://hooks.example.com/hr",
      events: ["query.created"],
      description: "d",
      is_active: true,
      retry_schedule_seconds: [1, 2],
      rate_limit_per_second: 5,
    };
  if (p.endsWith("/rotate-secret")) return { overlap_seconds: 60 };
  if (p.endsWith("/recover")) return { since: "2024-11-24T00:00:00Z", until: "2030-01-01T00:00:00Z" };
  if (p === "/api/v1/events") return { event: "query.created", data: exampleData("query.created") };
  if (p === "/api/v1/queries") return { user_id: "user_1", query: TEXTS.crash, category: "Technical", sentiment: "Negative", priority: 5, is_vip: false };
  if (p.endsWith("/escalate")) return { reason: TEXTS.billingReason };
  if (p.endsWith("/resolve")) return { response: TEXTS.response };
  if (p.endsWith("/feedback")) return { rating: 4, feedback_text: TEXTS.feedback };
  return {};
}

const jsonScalar = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(null, "", -1, 0, 1e308, 2 ** 53 + 1, "\u0000", "\uFEFF", "https://10.0.0.1/", "x".repeat(3000)),
);

const bodyArb = (op: Operation) =>
  fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: fc.constant(JSON.stringify(nearlyValid(op))) },
    {
      weight: 3,
      arbitrary: fc
        .dictionary(fc.constantFrom(...Object.keys(nearlyValid(op)), "extra"), jsonScalar, { maxKeys: 4 })
        .map((changes) => JSON.stringify({ ...nearlyValid(op), ...changes })),
    },
    { weight: 2, arbitrary: fc.json({ maxDepth: 3 }) },
    { weight: 2, arbitrary: anyText(80) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        "{",
        "[1,2",
        '{"a":1,"a":2}',
        '{"name":"x","name":"y"}',
        "\uFEFF{}",
        '{"n": 123456789012345678901234567890}',
        '{"n": 1e400}',
        "[".repeat(5000),
        `{"data":${"[".repeat(200)}${"]".repeat(200)}}`,
        "null",
        '"just a string"',
        // A number past double range, as sent (JSON.stringify would turn 1e400 into null).
        '{"event":"query.created","data":{"query_id":"q","user_id":"u","priority":1e400}}',
      ),
    },
    { weight: 1, arbitrary: fc.constant("x".repeat(300 * 1024)) },
  );

const contentTypeArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant("application/json") },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      "application/json; charset=utf-8",
      "APPLICATION/JSON",
      "application/json; charset=latin1",
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/merge-patch+json",
      "",
      null,
    ),
  },
);

const authArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant("own") },
  { weight: 1, arbitrary: fc.constant("none") },
  { weight: 1, arbitrary: fc.constant("admin") },
  { weight: 1, arbitrary: ascii(30).map((s) => `junk:${s}`) },
);

interface FuzzRequest {
  pathParams: Record<string, string>;
  query: string;
  body: string | undefined;
  contentType: string | null;
  auth: string;
  idempotencyKey: string | null;
  extraHeader: [string, string] | null;
}

const requestArb = (op: Operation): fc.Arbitrary<FuzzRequest> => {
  const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
  return fc.record({
    pathParams: fc.record(Object.fromEntries(params.map((p) => [p, idArb(kindFor(op, p))]))) as fc.Arbitrary<Record<string, string>>,
    query: queryArb(op),
    body: op.hasBody ? bodyArb(op) : fc.option(bodyArb(op), { freq: 4, nil: undefined }),
    contentType: contentTypeArb,
    auth: authArb,
    idempotencyKey: fc.option(ascii(300), { freq: 3, nil: null }),
    extraHeader: fc.option(fc.tuple(fc.constantFrom("X-Forwarded-For", "Accept", "Accept-Encoding", "X-Request-Id", "Origin", "Content-Language"), ascii(40)), {
      freq: 3,
      nil: null,
    }),
  });
};

function toRequest(op: Operation, req: FuzzRequest): { url: string; init: RequestInit; describe: string } {
  const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => req.pathParams[name]);
  const headers = new Headers({ "CF-Connecting-IP": `fuzz-${crypto.randomUUID()}` });
  const token = req.auth === "own" ? fixtures.tenant.key : req.auth === "admin" ? ADMIN_TOKEN : req.auth === "none" ? null : req.auth.slice("junk:".length);
  // Admin routes mostly get the admin token, tenant routes the tenant's key.
  const bearer = op.path.startsWith("/api/v1/admin/") && req.auth === "own" ? ADMIN_TOKEN : token;
  if (bearer !== null) headers.set("Authorization", `Bearer ${bearer}`);
  if (req.contentType !== null) headers.set("Content-Type", req.contentType);
  if (req.idempotencyKey !== null) headers.set("Idempotency-Key", req.idempotencyKey);
  if (req.extraHeader) headers.set(...req.extraHeader);
  const body = op.method === "GET" || op.method === "HEAD" ? undefined : req.body;
  const url = `https://api.test${path}${req.query ? `?${req.query}` : ""}`;
  const shown = body === undefined ? "" : ` body=${JSON.stringify(body.length > 200 ? `${body.slice(0, 200)}…(${body.length})` : body)}`;
  return { url, init: { method: op.method, headers, body }, describe: `${op.method} ${url} auth=${req.auth} ct=${req.contentType}${shown}` };
}

async function checkAnswer(op: Operation, res: Response, shown: string): Promise<void> {
  const text = await res.text();
  const context = `${shown}\n→ ${res.status} ${text.slice(0, 300)}`;
  expect(res.status, context).toBeLessThan(500);
  expect(op.statuses, `undocumented status: ${context}`).toContain(res.status);
  if (res.status < 400) return;
  expect(res.headers.get("Content-Type"), context).toMatch(/^application\/json/);
  const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; request_id?: unknown } };
  expect(body.error, context).toEqual(expect.objectContaining({ code: expect.any(String), message: expect.any(String), request_id: expect.any(String) }));
  expect(ERROR_STATUS[body.error!.code as keyof typeof ERROR_STATUS], `code ${String(body.error!.code)} for ${res.status}: ${context}`).toBe(res.status);
  expect(body.error!.request_id, context).toBe(res.headers.get("X-Request-Id"));
}

describe("every documented route, fuzzed", () => {
  beforeAll(async () => {
    // Deletions last, so the fuzzed tenant's resources exist (and can answer 2xx) for the other routes.
    operations = (await documentedOperations()).sort((a, b) => Number(a.method === "DELETE") - Number(b.method === "DELETE"));
    const [tenant, other] = [await createTenant("Fuzzed"), await createTenant("Other")];
    fixtures = {
      tenant,
      otherTenantId: other.id,
      own: { ...(await resourcesOf(tenant)), tenant: other.id },
      other: { ...(await resourcesOf(other)), tenant: crypto.randomUUID() },
    };
  });

  it("answers a documented status with the JSON error shape, never a 5xx, and stores nothing when it refuses", async () => {
    expect(operations.length).toBeGreaterThanOrEqual(20);
    const perOperation = Math.max(1, Math.round(RUNS / operations.length));
    const seed = SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) | 0;
    const failures: string[] = [];
    for (const op of operations) {
      try {
        await fc.assert(
          fc.asyncProperty(requestArb(op), async (req) => {
            const { url, init, describe: shown } = toRequest(op, req);
            const before = await storedCounts();
            const res = await exports.default.fetch(url, init);
            await checkAnswer(op, res, shown);
            if (res.status >= 400) expect(await storedCounts(), `stored something: ${shown} → ${res.status}`).toEqual(before);
          }),
          { numRuns: perOperation, seed },
        );
      } catch (error) {
        const cause = (error as { cause?: unknown }).cause;
        const detail = cause instanceof Error ? `\n${cause.message}` : "";
        failures.push(`${op.method} ${op.path} failed (seed ${seed}; set SEED to replay):\n${(error as Error).message}${detail}`);
      }
    }
    expect(failures, failures.join("\n\n")).toEqual([]);
  }, 60_000);
});
