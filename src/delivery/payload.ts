import { formatTime } from "../lib/time";
import { canonicalJson } from "./canonical-json";

export interface PayloadEvent {
  type: string;
  data: Record<string, unknown>;
  createdAt: number;
}

/** The guide's body `{ event, timestamp, webhook_id, data }`, in the bytes its verifiers recompute. */
export function deliveryBody(event: PayloadEvent, webhookId: string): string {
  return canonicalJson({ event: event.type, timestamp: formatTime(event.createdAt), webhook_id: webhookId, data: event.data });
}

/** True if the JSON value nests objects/arrays more than `limit` levels deep (checked without recursion). */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 0]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (item === null || typeof item !== "object") continue;
    if (depth + 1 > limit) return true;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return false;
}
