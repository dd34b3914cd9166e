/**
 * What one Worker invocation costs on Cloudflare, counted (not estimated): D1 round trips
 * and the rows D1 itself reports in `meta`, queue operations, and outbound subrequests.
 * Enabled by the LOG_USAGE var ("1"): each invocation then logs one `{"usage":{…}}` line,
 * which `npm run bench` adds up.
 */
export interface Usage {
  invocation: string;
  d1_round_trips: number;
  /** SQL statements, each counting against D1's 1,000 queries per invocation (Workers Paid). */
  d1_statements: number;
  d1_rows_read: number;
  d1_rows_written: number;
  /**
   * Milliseconds D1 reports executing SQL (meta.duration). Locally SQLite runs in the same
   * workerd process as the Worker, so the bench subtracts this from the process's CPU to
   * estimate the Worker's own; on Cloudflare it runs in D1, not in the Worker's CPU time.
   */
  d1_sql_ms: number;
  /** Statements run with first()/raw(), for which D1 returns no meta (drizzle selects). */
  d1_unmetered_statements: number;
  queue_messages_sent: number;
  queue_acks: number;
  queue_retries: number;
  subrequests: number;
}

export const newUsage = (invocation: string): Usage => ({
  invocation,
  d1_round_trips: 0,
  d1_statements: 0,
  d1_rows_read: 0,
  d1_rows_written: 0,
  d1_sql_ms: 0,
  d1_unmetered_statements: 0,
  queue_messages_sent: 0,
  queue_acks: 0,
  queue_retries: 0,
  subrequests: 0,
});

function addMeta(usage: Usage, meta: D1Meta | undefined) {
  usage.d1_rows_read += meta?.rows_read ?? 0;
  usage.d1_rows_written += meta?.rows_written ?? 0;
  usage.d1_sql_ms += meta?.duration ?? 0;
}

const originals = new WeakMap<object, D1PreparedStatement>();

function meterStatement(statement: D1PreparedStatement, usage: Usage): D1PreparedStatement {
  const metered = new Proxy(statement, {
    get(target, prop) {
      if (prop === "bind") return (...values: unknown[]) => meterStatement(target.bind(...values), usage);
      if (prop === "run" || prop === "all") {
        return async () => {
          usage.d1_round_trips++;
          usage.d1_statements++;
          const result = await target[prop]();
          addMeta(usage, result.meta);
          return result;
        };
      }
      if (prop === "first" || prop === "raw") {
        return (...args: unknown[]) => {
          usage.d1_round_trips++;
          usage.d1_statements++;
          usage.d1_unmetered_statements++;
          return (target[prop] as (...a: unknown[]) => unknown)(...args);
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  originals.set(metered, statement);
  return metered;
}

/** D1 wrapped to add each round trip, statement and metered row to `usage` (also used by tests). */
export function meterD1(d1: D1Database, usage: Usage): D1Database {
  return new Proxy(d1, {
    get(target, prop) {
      if (prop === "prepare") return (query: string) => meterStatement(target.prepare(query), usage);
      if (prop === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          usage.d1_round_trips++;
          usage.d1_statements += statements.length;
          const results = await target.batch(statements.map((s) => originals.get(s) ?? s));
          for (const result of results) addMeta(usage, result.meta);
          return results;
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function meterQueue<Q extends Queue<unknown>>(queue: Q, usage: Usage): Q {
  return {
    send: (body, options) => {
      usage.queue_messages_sent++;
      return queue.send(body, options);
    },
    sendBatch: (messages, options) => {
      usage.queue_messages_sent += [...messages].length;
      return queue.sendBatch(messages, options);
    },
  } as Q;
}

/**
 * The bindings withUsage meters, by their shape: the D1 database and the two delivery queues,
 * and the LOG_USAGE switch. The Worker's Env has them; this module needs nothing else of it.
 */
export interface MeteredBindings {
  LOG_USAGE?: string;
  DB: D1Database;
  DELIVERY_QUEUE: Queue<unknown>;
  SLOW_DELIVERY_QUEUE: Queue<unknown>;
}

/**
 * Runs one invocation with metered bindings when LOG_USAGE is "1", then logs its usage; with
 * `ctx`, after the work it handed to ctx.waitUntil (a queue batch's detached attempts) too.
 */
export async function withUsage<E extends MeteredBindings, T>(
  invocation: string,
  env: E,
  run: (env: E, usage: Usage, ctx?: ExecutionContext) => Promise<T>,
  ctx?: ExecutionContext,
): Promise<T> {
  const usage = newUsage(invocation);
  if (env.LOG_USAGE !== "1") return run(env, usage, ctx);
  const metered: E = {
    ...env,
    DB: meterD1(env.DB, usage),
    DELIVERY_QUEUE: meterQueue(env.DELIVERY_QUEUE, usage),
    SLOW_DELIVERY_QUEUE: meterQueue(env.SLOW_DELIVERY_QUEUE, usage),
  };
  const background: Promise<unknown>[] = [];
  const tracked =
    ctx &&
    (Object.assign(Object.create(ctx), {
      waitUntil: (p: Promise<unknown>) => {
        background.push(p);
        ctx.waitUntil(p);
      },
    }) as ExecutionContext);
  const log = () => console.log(JSON.stringify({ usage }));
  try {
    return await run(metered, usage, tracked);
  } finally {
    if (ctx && background.length > 0) ctx.waitUntil(Promise.allSettled(background).then(log));
    else log();
  }
}
