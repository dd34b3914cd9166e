import { sql } from "drizzle-orm";

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const newId = () => crypto.randomUUID();

/**
 * A UUIDv7: 48 bits of epoch milliseconds, then random bits. Ids of one table sort by
 * creation time, so a primary key over them also serves "newest first" and time windows.
 */
export function newTimeOrderedId(epochMs = Date.now()): string {
  const hex = epochMs.toString(16).padStart(12, "0");
  const random = crypto.getRandomValues(new Uint8Array(10));
  random[0] = (random[0] & 0x0f) | 0x70; // version 7
  random[2] = (random[2] & 0x3f) | 0x80; // RFC 4122 variant
  const tail = [...random].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${tail.slice(0, 4)}-${tail.slice(4, 8)}-${tail.slice(8, 20)}`;
}

/** The smallest UUIDv7 of a millisecond: a lower bound for time-window scans. */
export const firstTimeOrderedId = (epochMs: number) => {
  const hex = epochMs.toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
};

/**
 * A UUIDv7 of `epochMs` made inside SQLite, random bits and all, as newTimeOrderedId makes one
 * in JavaScript: one INSERT … SELECT can then give each of many rows an id of its own.
 */
export const sqlUuidV7 = (epochMs: number) => {
  const timePrefix = `${firstTimeOrderedId(epochMs).slice(0, 14)}7`;
  return sql`${timePrefix} || lower(substr(hex(randomblob(2)), 2) || '-' ||
    substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))`;
};

/** Ids in paths that are not UUIDs cannot exist: the caller answers 404 without a query. */
export const isUuid = (id: string) => UUID_PATTERN.test(id);
