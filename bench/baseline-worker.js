// The baseline for `npm run bench`: the same Workers runtime (config from writeBaselineConfig in
// lib/wrangler.mjs) POSTing to the same receiver, with no D1 and no queue.
// POST /run?n=…&c=…&url=…&mode=… makes n POSTs with at most c in flight and answers how long they took.
//   mode=plain    a plain fetch of a delivery-sized JSON body: the baseline (no signing either);
//   mode=attempt  the consumer's own attemptDelivery() (canonical JSON body, both signatures,
//                 timeout, response excerpt) without D1 or the queue: where the attempt code's time goes.
import { attemptDelivery } from "../src/delivery/attempt.ts";
import { bodyPartsForWebhooks, deliveryBody } from "../src/delivery/payload.ts";
import { importSigningKey } from "../src/delivery/signing.ts";
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

async function attempt(url, signingKey, i) {
  // Built as the consumer builds it: the event's head once, this webhook's tail, one pooled buffer.
  const body = bodyPartsForWebhooks({ ...EVENT, data: JSON.parse(JSON.stringify(EVENT.data)) })(WEBHOOK_ID);
  const result = await attemptDelivery(
    { webhookId: WEBHOOK_ID, deliveryId: `baseline-${i}`, url, signingKeys: { current: signingKey, previous: null } },
    body,
    10_000,
  );
  return result.class === "success";
}

export default {
  async fetch(request) {
    const params = new URL(request.url).searchParams;
    if (request.method !== "POST") return new Response("POST /run?n=&c=&url=&mode=plain|attempt", { status: 404 });
    const n = Number(params.get("n") ?? 100);
    const c = Number(params.get("c") ?? 10);
    const url = params.get("url");
    const mode = params.get("mode") ?? "plain";
    const signingKey = await importSigningKey("wsk_live_baseline");
    let ok = 0;
    let failed = 0;
    const errors = new Set();
    const started = Date.now();
    // At most c requests in flight, the concurrency the consumer reached.
    await pool(n, c, async (i) => {
      try {
        (mode === "attempt" ? await attempt(url, signingKey, i) : await plain(url)) ? ok++ : failed++;
      } catch (error) {
        failed++;
        errors.add(String(error).slice(0, 200));
      }
    });
    return Response.json({ mode, n, c, ok, failed, elapsed_ms: Date.now() - started, errors: [...errors] });
  },
};
