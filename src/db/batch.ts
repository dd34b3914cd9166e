import type { SQL } from "drizzle-orm";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";

const dialect = new SQLiteAsyncDialect();

/** A drizzle query builder (anything with toSQL) or a raw sql`` template. */
export type Statement = SQL | { toSQL(): { sql: string; params: unknown[] } };

function toD1(d1: D1Database, statement: Statement): D1PreparedStatement {
  const query = "toSQL" in statement ? statement.toSQL() : dialect.sqlToQuery(statement);
  return d1.prepare(query.sql).bind(...query.params);
}

/**
 * Runs statements as one atomic D1 batch: one round trip, all or nothing. Drizzle's own
 * db.batch cannot hold raw sql`` statements, which our set-based updates need: it fails with
 * "Cannot read properties of undefined (reading 'bind')" (drizzle-orm issue #2277, open).
 */
export function runBatch<Row = Record<string, unknown>>(d1: D1Database, statements: Statement[]): Promise<D1Result<Row>[]> {
  return d1.batch<Row>(statements.map((statement) => toD1(d1, statement)));
}
