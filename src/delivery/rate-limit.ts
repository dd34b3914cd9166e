import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import type { DeliveryRef } from "./job";

/** A delivery to a webhook with rate_limit_per_second, and the slot it may already hold. */
export interface RateLimited {
  ref: DeliveryRef;
  webhookId: string;
}

/**
 * Claims send slots for deliveries of rate-limited webhooks: one UPDATE … RETURNING per
 * batch moves each webhook's next free slot (rate_next_at) on by 1000 / rate ms per
 * delivery, so concurrent batches never hand out the same slot. Returns each delivery's
 * slot (epoch ms); the caller sends now those whose slot has come and delays the rest.
 */
export async function claimSlots(db: Database, items: RateLimited[], now: number): Promise<Map<string, number>> {
  const counts: Record<string, number> = {};
  for (const { webhookId } of items) counts[webhookId] = (counts[webhookId] ?? 0) + 1;
  if (items.length === 0) return new Map();
  const claimed = await db.all<{ id: string; next: number; rate: number }>(sql`UPDATE webhooks
    SET rate_next_at = CAST(round(max(coalesce(rate_next_at, 0), ${now}) + c.value * 1000.0 / rate_limit_per_second) AS INTEGER)
    FROM json_each(${JSON.stringify(counts)}) AS c
    WHERE webhooks.id = c.key AND rate_limit_per_second IS NOT NULL
    RETURNING id, rate_next_at AS next, rate_limit_per_second AS rate`);
  const slots = new Map<string, number>();
  for (const { id, next, rate } of claimed) {
    const interval = 1000 / rate;
    const mine = items.filter((item) => item.webhookId === id);
    for (const [i, item] of mine.entries()) slots.set(item.ref.deliveryId, Math.round(next - (mine.length - i) * interval));
  }
  return slots;
}
