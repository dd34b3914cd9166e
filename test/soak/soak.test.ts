import { describe, expect, it } from "vitest";
import { type ChaosAnswer, chaosAnswer, expectedOutcome } from "../../bench/lib/chaos.mjs";
import {
  type AttemptView,
  type DeliveryView,
  deliveryDetail,
  deliveryLog,
  eventually,
  exampleData,
  published,
  receiverWebhook,
  webhookView,
} from "../helpers/delivery";
import { createTenant, receiver, uniqueKey } from "../helpers/harness";
import { deliveryKey } from "../setup/delivery-key";

/**
 * The small soak of `npm run soak` (bench/soak.mjs), without the restarts: 150
 * deliveries through the real queue and consumer to receivers answering with the chaos mix
 * (30 % 500, 5 % 404, 2 % hang past DELIVERY_TIMEOUT_MS, 2 % dropped connection, else 200),
 * decided per (delivery, attempt), so every delivery's end state is known in advance.
 */
const WEBHOOKS = 6;
const EVENTS = 25;
/** How long the run may take: a deadline, not a timing assertion; with both cores busy it takes several times as long as idle. */
const DEADLINE_MS = 150_000;
const MAX_ATTEMPTS = 3;

/** Does a recorded attempt show the answer the receiver gave? */
function recorded(entry: AttemptView, answer: ChaosAnswer) {
  if (typeof answer === "number") return entry.status_code === answer;
  if (answer === "hang") return entry.status_code === null && /^Timed out/.test(entry.error ?? "");
  return entry.status_code === null && /^Connection failed/.test(entry.error ?? "");
}

describe("soak: chaos receivers, real queue", () => {
  it("every delivery ends as the retry policy predicts, nothing is lost or attempted twice, counters equal the logs", {
    timeout: DEADLINE_MS + 30_000,
  }, async () => {
    const tenant = await createTenant();
    const keys = Array.from({ length: WEBHOOKS }, () => uniqueKey("soak"));
    const webhooks = await Promise.all(keys.map((key) => receiverWebhook(tenant, key, "chaos")));
    const events = await Promise.all(
      Array.from({ length: EVENTS }, (_, i) => published(tenant, "query.created", { ...exampleData("query.created"), query_id: `soak-${i}` })),
    );
    expect(events.map((e) => e.deliveries_scheduled)).toEqual(Array(EVENTS).fill(WEBHOOKS));

    const total = EVENTS * WEBHOOKS;
    const finished = async () => (await Promise.all(webhooks.map((w) => webhookView(tenant, w.id)))).reduce((n, w) => n + w.delivery_count, 0);
    await eventually(async () => (await finished()) === total, DEADLINE_MS);

    const deliveries: DeliveryView[] = (await Promise.all(webhooks.map((w) => deliveryLog(tenant, w.id, "?limit=100")))).flat();
    // No event lost: each publish has one delivery per webhook, and nothing else was stored.
    const perEvent = new Map<string, number>();
    for (const d of deliveries) perEvent.set(d.event_id, (perEvent.get(d.event_id) ?? 0) + 1);
    expect(Object.fromEntries(perEvent)).toEqual(Object.fromEntries(events.map((e) => [e.event_id, WEBHOOKS])));

    const requests = (await Promise.all(keys.map((key) => receiver.requests(key)))).flat();
    const mismatches: string[] = [];
    const answersSeen = new Map<string, number>();
    for (const d of deliveries) {
      const key = `${d.webhook_id} ${d.id}`;
      const got = requests.filter((r) => deliveryKey(r.headers) === key).sort((a, b) => a.received_at - b.received_at);
      const answers = got.map((_, i) => chaosAnswer(key, i + 1));
      for (const a of answers) answersSeen.set(String(a), (answersSeen.get(String(a)) ?? 0) + 1);
      const predicted = expectedOutcome(
        [1, 2, 3].map((n) => chaosAnswer(key, n)),
        MAX_ATTEMPTS,
      );
      const fromAnswers = expectedOutcome(answers, MAX_ATTEMPTS);
      const { attempt_log } = await deliveryDetail(tenant, d.webhook_id, d.id);
      const actual = `${d.status}/${d.attempts} after ${got.length} requests`;
      // One request per recorded attempt: none lost, none repeated, none after the final attempt.
      if (got.length !== d.attempts || attempt_log.length !== d.attempts) mismatches.push(`${d.id}: ${actual}, ${attempt_log.length} logged`);
      else if (predicted.status !== d.status || predicted.attempts !== d.attempts || fromAnswers.status !== d.status) {
        mismatches.push(`${d.id}: answers ${JSON.stringify(answers)} predict ${predicted.status}/${predicted.attempts}, got ${actual}`);
      } else if (!attempt_log.every((entry, i) => recorded(entry, answers[i]))) {
        mismatches.push(`${d.id}: log ${JSON.stringify(attempt_log.map((a) => a.status_code ?? a.error))} vs answers ${JSON.stringify(answers)}`);
      }
    }
    expect(mismatches).toEqual([]);
    // The mix really was exercised (hang and close are too rare to require in a run this size).
    expect([...answersSeen.keys()]).toEqual(expect.arrayContaining(["200", "500", "404"]));

    for (const w of webhooks) {
      const mine = deliveries.filter((d) => d.webhook_id === w.id);
      const view = await webhookView(tenant, w.id);
      expect({ delivery_count: view.delivery_count, failure_count: view.failure_count }).toEqual({
        delivery_count: mine.length,
        failure_count: mine.filter((d) => d.status === "failed").length,
      });
    }
  });
});
