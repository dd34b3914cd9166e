import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, DevServer, launchChromium, Receiver, scrollsSideways, seriousAccessibilityViolations } from "./portal-harness";

/**
 * The tenant portal in a real Chromium against `wrangler dev` and a local receiver: one tenant,
 * one browser, steps in order (each builds on the endpoints and deliveries of the ones before).
 * PORTAL_SCREENSHOTS=1 also writes docs/portal-*.png (the README's screenshots).
 */
const server = new DevServer();
const receiver = new Receiver();
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let apiKey = "";
const SCREENSHOTS = process.env.PORTAL_SCREENSHOTS === "1" ? path.resolve(import.meta.dirname, "../../docs") : null;

/** Every page visited, for the accessibility and narrow-screen checks at the end. */
const visited = new Set<string>();

async function goto(url: string) {
  const res = await page.goto(url);
  visited.add(new URL(page.url()).pathname + new URL(page.url()).search);
  return res;
}

async function screenshot(name: string) {
  if (!SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `portal-${name}.png`), fullPage: true });
}

async function sessionLink(readOnly = false, key = apiKey) {
  return server.api<{ url: string; expires_at: string }>("/api/v1/portal/sessions", { key, json: { read_only: readOnly } });
}

/** Reloads until the check passes (the queue delivers in the background). */
async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function createEndpoint(url: string, events: string[]) {
  await goto(`${server.base}/portal/endpoints/new`);
  await page.getByLabel("Endpoint URL").fill(url);
  for (const type of events) await page.getByLabel(type, { exact: true }).check();
  await page.getByRole("button", { name: "Add endpoint" }).click();
  await page.waitForLoadState();
  if ((await page.locator("#signing-secret").count()) === 0) throw new Error(`endpoint not created: ${await page.locator("main").textContent()}`);
  return { id: await endpointIdOnPage(), secret: (await page.locator("#signing-secret").textContent())! };
}

/** The endpoint page shows its id (the create POST renders it in place, at /portal/endpoints). */
const endpointIdOnPage = async () => (await page.locator("dt:text-is('Id') + dd code").textContent())!;

beforeAll(async () => {
  await receiver.start();
  await server.start();
  const tenant = await server.api<{ api_key: string }>("/api/v1/admin/tenants", { key: ADMIN_TOKEN, json: { name: "Browser tenant" } });
  apiKey = tenant.api_key;
  chromium = await launchChromium();
  browser = chromium.browser;
  context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  page = await context.newPage();
  page.on("dialog", (dialog) => {
    throw new Error(`unexpected dialog: ${dialog.message()}`);
  });
});

afterAll(async () => {
  await chromium?.close();
  await server.stop();
  await receiver.stop();
});

describe("tenant portal in Chromium", () => {
  let endpoint: { id: string; secret: string };

  it("a session link opens the portal and leaves no token in the address bar", async () => {
    const link = await sessionLink();
    await goto(link.url);
    expect(page.url()).toBe(`${server.base}/portal`);
    await expect.poll(() => page.locator("h1").textContent()).toBe("Endpoints");
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: "portal_session", httpOnly: true, sameSite: "Strict", path: "/portal" });
  });

  it("creates an endpoint, showing its secret once", async () => {
    endpoint = await createEndpoint(receiver.url("ok"), ["query.created", "query.escalated"]);
    expect(endpoint.secret).toMatch(/^wsk_live_/);
    await screenshot("endpoint-created");
    await goto(`${server.base}/portal`);
    await expect.poll(() => page.locator("td.url a").first().textContent()).toBe(receiver.url("ok"));
    await expect.poll(() => page.locator("#signing-secret").count()).toBe(0);
  });

  it("sends a test event and shows it delivered; the receiver verifies it", async () => {
    await goto(`${server.base}/portal/endpoints/${endpoint.id}`);
    await page.getByRole("button", { name: "Send test event" }).click();
    await expect.poll(() => page.locator("#test-result").textContent()).toMatch(/^Test event delivered: HTTP 200/);
    const [request] = receiver.requests("ok");
    const payload = new Webhook(endpoint.secret, { format: "raw" }).verify(request.body, request.headers) as { event: string };
    expect(payload.event).toBe("webhook.test");
  });

  it("published events appear in the delivery log, and a delivery shows its attempts", async () => {
    for (const n of [1, 2]) {
      await server.api("/api/v1/events", {
        key: apiKey,
        json: {
          event: "query.created",
          data: { query_id: `q${n}`, user_id: "u1", category: "Technical", sentiment: "Neutral", priority: 3, query: `Question ${n}` },
        },
      });
    }
    await goto(`${server.base}/portal/endpoints/${endpoint.id}/deliveries`);
    await eventually(async () => {
      await page.reload();
      return (await page.locator("tbody tr", { hasText: "query.created" }).filter({ hasText: "success" }).count()) === 2;
    }, "two delivered events in the log");
    await screenshot("delivery-log");
    await page.locator("tbody tr", { hasText: "query.created" }).first().getByRole("link").click();
    await expect.poll(() => page.locator("h1").textContent()).toBe("Delivery");
    visited.add(new URL(page.url()).pathname);
    await expect.poll(() => page.locator("ol.attempts > li").count()).toBe(1);
    expect(await page.locator("ol.attempts").textContent()).toContain("HTTP 200");
    expect(await page.locator("pre.payload").textContent()).toContain('"query_id": "q2"');
    expect(await page.locator("table").textContent()).toContain("webhook-signature");
    await screenshot("delivery-detail");
  });

  it("a failing receiver's delivery fails; Retry from the page succeeds once it answers again", async () => {
    receiver.answer("flaky", 500, "down");
    const flaky = await createEndpoint(receiver.url("flaky"), ["query.escalated"]);
    await server.api("/api/v1/events", {
      key: apiKey,
      json: {
        event: "query.escalated",
        data: { query_id: "q9", user_id: "u1", category: "Billing", sentiment: "Angry", priority: 9, escalation_reason: "r", query: "q" },
      },
    });
    await goto(`${server.base}/portal/endpoints/${flaky.id}/deliveries?status=failed`);
    await eventually(async () => {
      await page.reload();
      return (await page.locator("tbody tr", { hasText: "query.escalated" }).count()) === 1;
    }, "the delivery to fail for good (3 attempts)");
    await page.locator("tbody tr").first().getByRole("link").click();
    await expect.poll(() => page.locator("ol.attempts > li").count()).toBe(3);
    receiver.answer("flaky", 200, "back");
    await page.getByRole("button", { name: "Retry" }).click();
    await eventually(async () => {
      await page.reload();
      return (await page.locator("dd .badge").textContent()) === "success";
    }, "the retried delivery to succeed");
    expect(await page.locator("ol.attempts > li").count()).toBe(4);
  });

  it("rotates the secret (shown once, copyable) and the receiver verifies the next delivery with the new one", async () => {
    await goto(`${server.base}/portal/endpoints/${endpoint.id}`);
    // The chart (uPlot, served by the Worker) is drawn from the deliveries so far, all succeeded: a test event, two
    // query.created and the query.escalated of the failing-receiver step (this endpoint takes both types).
    await expect.poll(() => page.locator(".chart canvas").count()).toBe(1);
    const succeeded = await page.locator(".chart-figure details tbody tr td:nth-child(2)").allTextContents();
    expect(succeeded.map(Number).reduce((a, b) => a + b)).toBe(4);
    await page.getByRole("button", { name: "Rotate secret" }).click();
    await expect.poll(() => page.locator("#signing-secret").count()).toBe(1);
    const secret = (await page.locator("#signing-secret").textContent())!;
    expect(secret).not.toBe(endpoint.secret);
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.base });
    await page.getByRole("button", { name: "Copy" }).click();
    await expect.poll(() => page.locator("#signing-secret-status").textContent()).toBe("Copied to the clipboard.");
    await screenshot("endpoint-rotated");
    await page.getByRole("button", { name: "Send test event" }).click();
    await expect.poll(() => page.locator("#test-result").textContent()).toMatch(/^Test event delivered/);
    const last = receiver.requests("ok").at(-1)!;
    const payload = new Webhook(secret, { format: "raw" }).verify(last.body, last.headers) as { event: string };
    expect(payload.event).toBe("webhook.test");
  });

  it("a receiver's <script> and <img onerror> show as text and run nothing", async () => {
    const hostile = `<script>window.__portalXss = 1</script><img src=x onerror="window.__portalXss = 2">`;
    receiver.answer("hostile", 200, hostile, "text/html");
    const target = await createEndpoint(receiver.url("hostile"), ["query.created"]);
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.getByRole("button", { name: "Send test event" }).click();
    await expect.poll(() => page.locator("#test-result").textContent()).toMatch(/delivered/);
    await page.getByRole("link", { name: "See the delivery" }).click();
    await expect.poll(() => page.locator("pre.response-excerpt").textContent()).toBe(hostile);
    visited.add(new URL(page.url()).pathname);
    expect(await page.locator("pre.response-excerpt img, pre.response-excerpt script").count()).toBe(0);
    expect(await page.evaluate("typeof window.__portalXss")).toBe("undefined");
    expect(errors).toEqual([]);
    expect(target.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("edits an endpoint, disables and enables it, and deletes one after a confirm", async () => {
    await goto(`${server.base}/portal/endpoints/${endpoint.id}/edit`);
    await page.getByLabel("Description").fill("Orders <b>team</b>");
    await page.getByLabel("Retry schedule").fill("5, 60");
    await page.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => page.locator("dl.facts").first().textContent()).toContain("Orders <b>team</b>");
    expect(await page.locator("dl.facts").first().textContent()).toContain("5 s, 60 s between attempts");
    await page.getByRole("button", { name: "Disable" }).click();
    await expect.poll(() => page.locator("dd .badge").first().textContent()).toBe("Disabled");
    await page.getByRole("button", { name: "Enable" }).click();
    await expect.poll(() => page.locator("dd .badge").first().textContent()).toBe("Active");

    const doomed = await createEndpoint(receiver.url("doomed"), ["feedback.received"]);
    await goto(`${server.base}/portal/endpoints/${doomed.id}`);
    await page.getByRole("link", { name: "Delete" }).click();
    expect(await seriousAccessibilityViolations(page)).toEqual([]); // the confirm page is gone once it has done its work
    await page.getByRole("button", { name: "Delete endpoint" }).click();
    await expect.poll(() => page.url()).toBe(`${server.base}/portal`);
    expect(await page.locator("td.url", { hasText: "doomed" }).count()).toBe(0);
    await screenshot("endpoints");
  });

  it("a read-only session sees everything and can change nothing, also through direct POSTs", async () => {
    const roContext = await browser.newContext();
    const ro = await roContext.newPage();
    await ro.goto((await sessionLink(true)).url);
    expect(await ro.locator(".badge.warn").textContent()).toBe("Read-only");
    expect(await ro.getByRole("link", { name: "Add endpoint" }).count()).toBe(0);
    await ro.goto(`${server.base}/portal/endpoints/${endpoint.id}`);
    expect(await ro.getByRole("button", { name: "Send test event" }).count()).toBe(0);
    for (const action of ["test", "rotate-secret", "disable", "delete"]) {
      const res = await ro.request.post(`${server.base}/portal/endpoints/${endpoint.id}/${action}`, { headers: { Origin: server.base }, form: {} });
      expect(res.status()).toBe(403);
      expect(await res.text()).toContain("Read-only session");
    }
    const res = await ro.request.post(`${server.base}/portal/endpoints`, {
      headers: { Origin: server.base },
      form: { url: receiver.url("ro"), events: "query.created" },
    });
    expect(res.status()).toBe(403);
    const webhook = await server.api<{ is_active: boolean }>(`/api/v1/webhooks/${endpoint.id}`, { key: apiKey });
    expect(webhook.is_active).toBe(true);
    await roContext.close();
  });

  it("a used or expired link is refused with a plain page", async () => {
    const other = await browser.newContext();
    const tab = await other.newPage();
    const link = await sessionLink();
    await tab.goto(link.url);
    const again = await tab.goto(link.url);
    expect(again!.status()).toBe(403);
    expect(await tab.locator("h1").textContent()).toBe("This link cannot be used");
    const fresh = await other.newPage();
    const expiredUrl = link.url.replace(/token=[^&]+/, "token=ptl_expired_or_forged");
    expect((await fresh.goto(expiredUrl))!.status()).toBe(403);
    await other.close();
  });

  it("the event types page shows examples and both verifiers", async () => {
    await goto(`${server.base}/portal/event-types`);
    const text = (await page.locator("main").textContent())!;
    expect(text).toContain("def verify_webhook_signature(payload: dict, signature: str, secret_key: str) -> bool:");
    expect(text).toContain('import { Webhook } from "standardwebhooks";');
    expect(text).toContain('"event": "query.escalated"');
    await screenshot("event-types");
  });

  it("axe-core finds no serious or critical violation on any page, and no page scrolls sideways at 375 px", async () => {
    // The check can fail: an image without alt text is a critical violation to axe.
    await page.setContent(`<!doctype html><html lang="en"><title>t</title><main><img src="x.png"></main></html>`);
    expect((await seriousAccessibilityViolations(page)).join()).toContain("image-alt (critical)");
    visited.add(`/portal/endpoints/${endpoint.id}/edit`);
    visited.add("/portal/endpoints/new");
    const problems: string[] = [];
    for (const width of [1200, 375]) {
      await page.setViewportSize({ width, height: 800 });
      for (const pathname of visited) {
        await page.goto(`${server.base}${pathname}`);
        if (width === 1200) problems.push(...(await seriousAccessibilityViolations(page)).map((v) => `${pathname}: ${v}`));
        else if (await scrollsSideways(page)) problems.push(`${pathname}: scrolls sideways at 375 px`);
      }
    }
    expect(problems).toEqual([]);
    expect(visited.size).toBeGreaterThanOrEqual(7);
  });
});
