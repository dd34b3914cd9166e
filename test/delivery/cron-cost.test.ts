import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { finishedDelivery, published, receiverWebhook, worker } from "../helpers/delivery";
import { createTenant, uniqueKey } from "../helpers/harness";

/** One cron run at `scheduledTime` with LOG_USAGE on: the D1 rows it wrote, from the usage line it logs (src/lib/usage.ts). */
async function cronRowsWritten(scheduledTime: number, vars: Record<string, string> = {}): Promise<number> {
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  try {
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime, cron: "* * * * *" }), { ...env, ...vars, LOG_USAGE: "1" }, ctx);
    await waitOnExecutionContext(ctx);
    const lines = log.mock.calls.map(([line]) => String(line)).filter((line) => line.startsWith('{"usage"'));
    expect(lines).toHaveLength(1);
    return (JSON.parse(lines[0]!) as { usage: { d1_rows_written: number } }).usage.d1_rows_written;
  } finally {
    log.mockRestore();
  }
}

describe("the cron's writes", () => {
  it("a minute with nothing to do writes no row: the sweep cursor moves only past events it walked, the fold waits for the hour", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey("idle"));
    await published(tenant, "query.created");
    await finishedDelivery(tenant, webhook.id); // a counter delta waits for the fold
    // Runs in the delta's hour, whatever the clock says when they start.
    const inItsHour = (await env.DB.prepare("SELECT max(created_at) AS t FROM webhook_counter_deltas").first<{ t: number }>())!.t;

    // The event is younger than the default grace (120 s): nothing to walk, nothing to fold yet.
    expect(await cronRowsWritten(inItsHour)).toBe(0);
    expect(await cronRowsWritten(inItsHour)).toBe(0);

    // Past a 1-second grace the sweep walks the event (its delivery has a row) and moves the cursor: one row.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await cronRowsWritten(inItsHour, { SWEEP_GRACE_SECONDS: "1" })).toBe(1);
    expect(await cronRowsWritten(inItsHour, { SWEEP_GRACE_SECONDS: "1" })).toBe(0);
    expect((await env.DB.prepare("SELECT count(*) AS n FROM webhook_counter_deltas").first<{ n: number }>())!.n).toBeGreaterThan(0);
  });
});
