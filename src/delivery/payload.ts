import { isLosslessNumber } from "lossless-json";
import { formatTime } from "../lib/time";
import { canonicalJson } from "./canonical-json";

export interface PayloadEvent {
  type: string;
  data: Record<string, unknown>;
  createdAt: number;
}

/**
 * The guide's body `{ event, timestamp, webhook_id, data }` for each webhook of one event, in
 * the bytes its verifiers recompute. The data is serialised once per event; only webhook_id
 * differs between webhooks. Keys are in canonicalJson's sorted order: data, event, timestamp, webhook_id.
 */
export function bodyForWebhooks(event: PayloadEvent): (webhookId: string) => string {
  const head = bodyHead(event);
  return (webhookId) => `${head}${bodyTail(webhookId)}`;
}

/** The body up to the webhook's id: everything the webhooks of one event share. */
const bodyHead = (event: PayloadEvent) =>
  `{"data":${canonicalJson(event.data)},"event":${canonicalJson(event.type)},"timestamp":${canonicalJson(formatTime(event.createdAt))},"webhook_id":`;
const bodyTail = (webhookId: string) => `${canonicalJson(webhookId)}}`;

export const deliveryBody = (event: PayloadEvent, webhookId: string): string => bodyForWebhooks(event)(webhookId);

/** A delivery body in two parts: the event's head, shared by all its webhooks, and the webhook's own tail. */
export interface BodyParts {
  head: Uint8Array;
  tail: Uint8Array;
}

const encoder = new TextEncoder();

/**
 * bodyForWebhooks as bytes: the head (the event's data, up to 256 KB) is encoded once per
 * event, and each webhook adds only its tail, so a fan-out makes no copy of the data per
 * webhook until the attempt's own buffer (src/delivery/signing.ts signedContent).
 */
export function bodyPartsForWebhooks(event: PayloadEvent): (webhookId: string) => BodyParts {
  const head = encoder.encode(bodyHead(event));
  return (webhookId) => ({ head, tail: encoder.encode(bodyTail(webhookId)) });
}

/** True if the JSON value nests objects/arrays more than `limit` levels deep (checked without recursion; an exact big integer is a number, not a level). */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 0]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (item === null || typeof item !== "object" || isLosslessNumber(item)) continue;
    if (depth + 1 > limit) return true;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return false;
}
