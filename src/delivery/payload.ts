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
