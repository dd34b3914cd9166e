import { and, asc, desc, gt, gte, lt, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { firstTimeOrderedId } from "../lib/ids";

/**
 * How a list is paged. skip/limit are the guide's (offset paging: the rows skipped are still
 * read). before/after are cursors: the id of an item already seen, newer-first lists
 * continuing after it (before: older items) or back towards newer ones (after). A cursor
 * page is a seek along the time-ordered key, so it reads the same rows however deep it is.
 */
export interface PageRequest {
  skip: number;
  limit: number;
  before?: string;
  after?: string;
}

/** Created-time window (epoch ms), [since, until). */
export interface TimeRange {
  since?: number;
  until?: number;
}

/** A page, newest first, with whether there is more on either side (for the Link header). */
export interface Page<T> {
  items: T[];
  /** Matching rows in all; null on cursor requests, which do not count (a count reads every matching row). */
  total: number | null;
  hasOlder: boolean;
  hasNewer: boolean;
}

export const isCursorRequest = (page: PageRequest) => page.before !== undefined || page.after !== undefined;

/** since/until as a range of a UUIDv7 key: ids start with their creation millisecond. */
export function idTimeRange(id: SQLiteColumn, range: TimeRange): SQL | undefined {
  return and(
    range.since === undefined ? undefined : gte(id, firstTimeOrderedId(range.since)),
    range.until === undefined ? undefined : lt(id, firstTimeOrderedId(range.until)),
  );
}

/**
 * The cursor's condition and order over a time-ordered id column. `after` walks the key
 * upwards (oldest first) so that LIMIT takes the items next to the cursor; pageOf turns
 * them back to newest first. One extra row is fetched to tell whether more follow.
 */
export function idCursor(id: SQLiteColumn, page: PageRequest) {
  if (page.after !== undefined) return { where: gt(id, page.after), orderBy: asc(id), limit: page.limit + 1 };
  return { where: page.before === undefined ? undefined : lt(id, page.before), orderBy: desc(id), limit: page.limit + 1 };
}

/** The page from the limit + 1 rows fetched in the cursor's order. */
export function pageOf<T>(rows: T[], page: PageRequest, total: number | null): Page<T> {
  const more = rows.length > page.limit;
  const items = rows.slice(0, page.limit);
  if (page.after !== undefined) return { items: items.reverse(), total, hasOlder: true, hasNewer: more };
  return { items, total, hasOlder: more, hasNewer: page.before !== undefined || page.skip > 0 };
}
