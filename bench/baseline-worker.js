// The baseline for `npm run bench`: the same Workers runtime (config from writeBaselineConfig in
// lib/wrangler.mjs) POSTing to the same receiver, with no D1 and no queue.
// POST /run?n=…&c=…&url=…&mode=… makes n POSTs with at most c in flight and answers how long they took.
//   mode=plain    a plain fetch of a delivery-sized JSON body: the baseline (no signing either);
//   mode=wire     plain fetch as an attempt goes on the wire: its eight headers (fixed values), a
//                 byte body and a timeout signal, with nothing computed per POST;
//   mode=signed   wire, with the headers and body made by signedRequest() (both HMACs) per POST;
//   mode=attempt  the consumer's own attemptDelivery() (canonical JSON body, both signatures,
//                 timeout, response excerpt) without D1 or the queue, the body built as the consumer
//                 builds it at 100 endpoints per event: where the attempt code's time goes.
// The four modes step from a plain POST to an attempt, so their differences split its cost.
import { attemptDelivery } from "../src/delivery/attempt.ts";
import { bodyPartsForWebhooks, deliveryBody } from "../src/delivery/payload.ts";
import { importSigningKey, releaseBuffer, signedRequest } from "../src/delivery/signing.ts";
import { pool } from "./lib/stats.mjs";

const WEBHOOK_ID = "00000000-0000-4000-8000-000000000000";
const EVENT = {
  type: "query.created",
  createdAt: Date.parse("2026-01-01T00:00:00Z"),
  data: {
    category: "Technical",
    priority: 5,
    query: "My application keeps crashing when I try to export data",
    query_id: "baseline",
    sentiment: "Neutral",
    user_id: "bench-user",
  },
};
const PLAIN_BODY = deliveryBody(EVENT, WEBHOOK_ID);

async function plain(url) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "User-Agent": "baseline/1.0" },
    body: PLAIN_BODY,
    redirect: "manual",
  });
  await res.text();
  return res.ok;
}

const WIRE_HEADERS = {
  "Content-Type": "application/json",
  "User-Agent": "hr-intel-webhooks/1.0",
  "X-Webhook-Signature": "0".repeat(64),
  "X-Webhook-Timestamp": "2026-01-01T00:00:00Z",
  "X-Webhook-ID": WEBHOOK_ID,
  "webhook-id": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
  "webhook-timestamp": "1767225600",
  "webhook-signature": `v1,${"A".repeat(43)}=`,
};
const PLAIN_BYTES = new TextEncoder().encode(PLAIN_BODY);
const BODY_PARTS = bodyPartsForWebhooks(EVENT)(WEBHOOK_ID);

async function wire(url, headers = WIRE_HEADERS, body = PLAIN_BYTES) {
  const res = await fetch(url, { method: "POST", headers, body, redirect: "manual", signal: AbortSignal.timeout(10_000) });
  await res.text();
  return res.ok;
}

async function signed(url, signingKey, i) {
  const request = await signedRequest({ current: signingKey, previous: null }, BODY_PARTS, { webhookId: WEBHOOK_ID, deliveryId: `baseline-${i}` }, new Date());
  try {
    return await wire(url, request.headers, request.body);
  } finally {
    releaseBuffer(request.body);
  }
}

/**
 * The consumer encodes an event's data once for all its webhooks (bodyPartsForWebhooks), so this
 * mode does too: one event's body parts for every ATTEMPT_FANOUT POSTs, the smallest fan-out the
 * CPU aim names, and each POST adds only its webhook's tail.
 */
const ATTEMPT_FANOUT = 100;
let eventBody = null;

async function attempt(url, signingKey, i) {
  if (i % ATTEMPT_FANOUT === 0 || !eventBody) eventBody = bodyPartsForWebhooks({ ...EVENT, data: JSON.parse(JSON.stringify(EVENT.data)) });
  const result = await attemptDelivery(
    { webhookId: WEBHOOK_ID, deliveryId: `baseline-${i}`, url, signingKeys: { current: signingKey, previous: null } },
    eventBody(WEBHOOK_ID),
    10_000,
  );
  return result.class === "success";
}

const MODES = { plain, wire: (url) => wire(url), signed, attempt };

export default {
  async fetch(request) {
    const params = new URL(request.url).searchParams;
    if (request.method !== "POST") return new Response("POST /run?n=&c=&url=&mode=plain|wire|signed|attempt", { status: 404 });
    const n = Number(params.get("n") ?? 100);
    const c = Number(params.get("c") ?? 10);
    const url = params.get("url");
    const mode = params.get("mode") ?? "plain";
    if (!(mode in MODES)) return new Response(`mode: one of ${Object.keys(MODES).join(", ")}`, { status: 400 });
    const signingKey = await importSigningKey("wsk_live_baseline");
    let ok = 0;
    let failed = 0;
    const errors = new Set();
    const started = Date.now();
    // At most c requests in flight, the concurrency the consumer reached.
    await pool(n, c, async (i) => {
      try {
        (await MODES[mode](url, signingKey, i)) ? ok++ : failed++;
      } catch (error) {
        failed++;
        errors.add(String(error).slice(0, 200));
      }
    });
    return Response.json({ mode, n, c, ok, failed, elapsed_ms: Date.now() - started, errors: [...errors] });
  },
};
