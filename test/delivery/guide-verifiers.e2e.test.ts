import { describe, expect, inject, it } from "vitest";
import { receivedAtLeast } from "../helpers/delivery";
import { api, createTenant, createWebhook, receiver, uniqueKey } from "../helpers/harness";

/**
 * Real deliveries, through the API, the queue and the consumer to the local receiver,
 * checked by the integration guide's own Python and Node verification examples (run
 * unchanged by test/setup/guide-verifiers.ts).
 */
interface Verdict {
  python: boolean;
  node: boolean;
}

async function guideVerdicts(cases: { body: string; signature: string; secret: string }[]): Promise<Verdict[]> {
  const res = await fetch(`http://localhost:${inject("guideVerifierPort")}/verify`, { method: "POST", body: JSON.stringify(cases) });
  expect(res.status).toBe(200);
  return (await res.json()) as Verdict[];
}

const base = { query_id: "conv_abc123", user_id: "user_456", category: "Technical", sentiment: "Negative", priority: 7 };

const ASCII_QUERIES = [
  "My application keeps crashing when I try to export data",
  'She said "it\'s broken" \\ path C:\\temp\\x / slash',
  "tabs\tand\nnewlines\r\nand \u0001 control \u001f chars",
];
// Non-ASCII text, and DEL, which Python escapes but JSON.stringify does not.
const UNICODE_QUERIES = [
  "Café crème, naïve façade, Ærøskøbing, DEL \u007f",
  "Emoji 😀👍🏽 and CJK 漢字 and \u2028 separators \u2029",
  "Ünïcödé — “quotes” ‘single’ …",
];

describe("the guide's verification examples accept real deliveries", () => {
  it("Python accepts every delivery, Node every ASCII one", async () => {
    const tenant = await createTenant();
    const key = uniqueKey("guide");
    const webhook = await createWebhook(tenant, { url: receiver.url(key), events: ["query.created"] });
    const queries = [...ASCII_QUERIES, ...UNICODE_QUERIES];
    for (const [i, query] of queries.entries()) {
      const nested: Record<string, unknown> = { list: [1, 2.5, -0.001, 330.5, 1e21, null, true, { z: "last", a: "first" }] };
      if (i >= ASCII_QUERIES.length) nested.é = "a key with an accent";
      const extra = { nested, seq: i };
      const data = { ...base, query, resolution_estimate_seconds: 330.5, extra };
      const res = await api("/api/v1/events", { method: "POST", key: tenant.key, json: { event: "query.created", data } });
      expect(res.status).toBe(202);
    }
    const received = await receivedAtLeast(key, queries.length);

    const verdicts = await guideVerdicts(received.map((r) => ({ body: r.body, signature: r.headers["x-webhook-signature"], secret: webhook.secret_key })));
    verdicts.forEach((verdict, i) => {
      const seq = (JSON.parse(received[i].body) as { data: { extra: { seq: number } } }).data.extra.seq;
      expect(verdict.python, `python, query ${seq}`).toBe(true);
      // The guide's Node recipe re-serialises with JSON.stringify, which writes non-ASCII raw:
      // it matches our bytes exactly when the data is ASCII.
      expect(verdict.node, `node, query ${seq}`).toBe(seq < ASCII_QUERIES.length);
    });
  });

  it("a wrong secret or a tampered body is refused by both", async () => {
    const tenant = await createTenant();
    const key = uniqueKey("tamper");
    const webhook = await createWebhook(tenant, { url: receiver.url(key), events: ["query.created"] });
    expect((await api("/api/v1/events", { method: "POST", key: tenant.key, json: { event: "query.created", data: { ...base, query: "x" } } })).status).toBe(
      202,
    );
    const [delivery] = await receivedAtLeast(key, 1);
    const signature = delivery.headers["x-webhook-signature"];
    const verdicts = await guideVerdicts([
      { body: delivery.body, signature, secret: `${webhook.secret_key}x` },
      { body: delivery.body.replace('"priority":7', '"priority":8'), signature, secret: webhook.secret_key },
    ]);
    expect(verdicts).toEqual([
      { python: false, node: false },
      { python: false, node: false },
    ]);
  });
});
