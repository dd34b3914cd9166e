import { describe, expect, inject, it } from "vitest";

/**
 * scripts/receiver.mjs, the README's local receiver, run as a child process (node) on a free
 * port by test/setup/receiver-script.ts: requests it cannot read get 400 and never stop it.
 */
const SECRET = "wsk_live_receiver-script-test-secret";

interface Status {
  running: boolean;
  exit_code: number | null;
  stdout: string;
  stderr: string;
}

const control = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${inject("receiverScriptControlPort")}${path}`, init);

async function startReceiver(): Promise<{ id: string; url: string }> {
  const res = await control("/start", { method: "POST", body: JSON.stringify({ secret: SECRET }) });
  expect(res.status).toBe(200);
  const { id, port } = (await res.json()) as { id: string; port: number };
  return { id, url: `http://127.0.0.1:${port}/webhook` };
}

const status = async (id: string) => (await (await control(`/status/${id}`)).json()) as Status;

async function hmac(message: string): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(message)));
}
const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

/** The headers hr-intel-webhooks sends with `body` at `atMs`, both schemes signed, with some replaced. */
async function signedHeaders(body: string, atMs = Date.now(), replace: Record<string, string | null> = {}): Promise<Headers> {
  const deliveryId = crypto.randomUUID();
  const unix = String(Math.floor(atMs / 1000));
  const headers = new Headers({
    "Content-Type": "application/json",
    "X-Webhook-Signature": hex(await hmac(body)),
    "X-Webhook-Timestamp": new Date(atMs).toISOString().replace(/\.\d{3}Z$/, "Z"),
    "X-Webhook-ID": crypto.randomUUID(),
    "webhook-id": deliveryId,
    "webhook-timestamp": unix,
    "webhook-signature": `v1,${base64(await hmac(`${deliveryId}.${unix}.${body}`))}`,
  });
  for (const [name, value] of Object.entries(replace)) {
    if (value === null) headers.delete(name);
    else headers.set(name, value);
  }
  return headers;
}

const EVENT = JSON.stringify({ event: "query.created", timestamp: "2024-11-24T12:00:00Z", webhook_id: "w", data: { query_id: "conv_abc123" } });
const MINUTE = 60_000;

/** Requests the receiver cannot read: each gets 400, and the receiver keeps running. */
const BAD_REQUESTS: [string, () => Promise<{ body: string; headers: Headers }>][] = [
  // 64 bytes on the wire (é is 2 UTF-8 bytes), so 64 characters as Node reads them (latin1), and 66 UTF-8 bytes
  // again: the old receiver's timingSafeEqual threw on the unequal lengths and the process died.
  [
    "a 64-character signature with a non-ASCII byte",
    async () => ({ body: EVENT, headers: await signedHeaders(EVENT, Date.now(), { "X-Webhook-Signature": `\u00e9${"a".repeat(62)}` }) }),
  ],
  ["a signature that is not hex", async () => ({ body: EVENT, headers: await signedHeaders(EVENT, Date.now(), { "X-Webhook-Signature": "z".repeat(64) }) })],
  ["a malformed webhook-signature", async () => ({ body: EVENT, headers: await signedHeaders(EVENT, Date.now(), { "webhook-signature": "v1,not base64!" }) })],
  ["a body that is not JSON", async () => ({ body: "not json {", headers: await signedHeaders("not json {") })],
  ["an empty body", async () => ({ body: "", headers: await signedHeaders("") })],
  ["a webhook-timestamp 6 minutes old (signed)", async () => ({ body: EVENT, headers: await signedHeaders(EVENT, Date.now() - 6 * MINUTE) })],
  [
    "an X-Webhook-Timestamp 6 minutes old",
    async () => ({ body: EVENT, headers: await signedHeaders(EVENT, Date.now(), { "X-Webhook-Timestamp": new Date(Date.now() - 6 * MINUTE).toISOString() }) }),
  ],
  ["a timestamp 6 minutes ahead", async () => ({ body: EVENT, headers: await signedHeaders(EVENT, Date.now() + 6 * MINUTE) })],
  ["a malformed webhook-timestamp", async () => ({ body: EVENT, headers: await signedHeaders(EVENT, Date.now(), { "webhook-timestamp": "yesterday" }) })],
  [
    "no timestamp at all",
    async () => ({ body: EVENT, headers: await signedHeaders(EVENT, Date.now(), { "webhook-timestamp": null, "X-Webhook-Timestamp": null }) }),
  ],
];

describe("scripts/receiver.mjs", () => {
  it("answers 400 to each request it cannot read, keeps running, then verifies a good one", async () => {
    const receiver = await startReceiver();
    try {
      for (const [name, build] of BAD_REQUESTS) {
        const { body, headers } = await build();
        const res = await fetch(receiver.url, { method: "POST", headers, body });
        expect(res.status, name).toBe(400);
        expect(await res.json(), name).toMatchObject({ status: "bad request", error: expect.any(String) });
        expect((await status(receiver.id)).running, `still running after ${name}`).toBe(true);
      }

      const forged = await fetch(receiver.url, {
        method: "POST",
        headers: await signedHeaders(EVENT, Date.now(), { "X-Webhook-Signature": "0".repeat(64) }),
        body: EVENT,
      });
      expect(forged.status).toBe(401);

      const good = await fetch(receiver.url, { method: "POST", headers: await signedHeaders(EVENT), body: EVENT });
      expect(good.status).toBe(200);
      expect(await good.json()).toEqual({ status: "received" });

      const after = await status(receiver.id);
      expect(after.running).toBe(true);
      expect(after.stdout).toContain('"event":"query.created"');
      expect(after.stdout).toContain('"verified":{"guide":true,"standard":true}');
      expect(after.stderr.trim().split("\n")).toHaveLength(BAD_REQUESTS.length);
      expect(after.stderr).not.toMatch(/at .*receiver\.mjs/); // no stack trace: nothing was thrown uncaught
    } finally {
      await control(`/stop/${receiver.id}`, { method: "POST" });
    }
  });
});
