import { sql } from "drizzle-orm";
import { requireSecretKeys } from "../config";
import { runBatch } from "../db/batch";
import { deliveryBody } from "../delivery/payload";
import { signedRequest } from "../delivery/signing";
import { signingKeysAt } from "../delivery/step";
import { notFound } from "../lib/errors";
import { parseStoredJson } from "../lib/exact-json";
import type { ServiceContext } from "./context";
import { getDelivery } from "./deliveries";
import { findWebhook } from "./webhooks";

/**
 * A delivery as its receiver got it: the body rebuilt by the consumer's own payload code from
 * the stored event (byte for byte what was POSTed: canonical JSON of the stored data), and the
 * headers of its last attempt, signed as signedRequest signs them at that attempt's time. The
 * signatures use the webhook's secrets as they are now: after a rotation they differ from the
 * ones sent (signatures_current_secret says so).
 */
export async function deliveryAsSent(ctx: ServiceContext, webhookId: string, deliveryId: string) {
  const { db, d1, config, tenantId } = ctx;
  const delivery = await getDelivery(ctx, webhookId, deliveryId);
  const webhook = await findWebhook(db, tenantId, webhookId);
  // The data as stored text, parsed losslessly (big integers digit for digit).
  const [found] = await runBatch<{ type: string; data: string; created_at: number }>(d1, [
    sql`SELECT type, data, created_at FROM events WHERE id = ${delivery.event_id} AND tenant_id = ${tenantId}`,
  ]);
  const event = found.results[0];
  if (!event) throw notFound("Event");
  const body = deliveryBody({ type: event.type, data: parseStoredJson(event.data) as Record<string, unknown>, createdAt: event.created_at }, webhook.id);
  const lastAttempt = delivery.attempt_log.at(-1);
  const attemptedAt = lastAttempt ? new Date(Date.parse(lastAttempt.attempted_at)) : new Date(event.created_at);
  const signed = await signedRequest(
    await signingKeysAt(webhook, requireSecretKeys(config), attemptedAt.getTime()),
    body,
    { webhookId: webhook.id, deliveryId: delivery.id },
    attemptedAt,
  );
  return { delivery, webhook, body, headers: signed.headers, sent: lastAttempt !== undefined };
}
