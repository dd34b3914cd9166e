#!/usr/bin/env node
// A local webhook receiver for trying hr-intel-webhooks by hand (README walk-through).
// Usage: WEBHOOK_SECRET=wsk_live_... node scripts/receiver.mjs [port=3000]   (port 0: any free port)
// It checks both signature schemes and the timestamps' freshness and prints each event. It
// answers 200; 400 to a request it cannot read (a body that is not JSON, a malformed
// signature, a missing or stale timestamp); 401 when a secret is given and a signature does
// not verify. A bad request never stops it.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

const port = Number(process.argv[2] ?? 3000);
const secret = process.env.WEBHOOK_SECRET;
/** Standard Webhooks' tolerance: a timestamp further than this from now is a replay (or a wrong clock). */
const TOLERANCE_SECONDS = 5 * 60;
const MAX_BODY_BYTES = 1024 * 1024;

/** A request the receiver refuses with 400: it cannot be read, whatever the secret. */
class BadRequest extends Error {}

/** Constant-time comparison of two strings' UTF-8 bytes (timingSafeEqual throws on unequal lengths). */
function safeEqual(a, b) {
  const [x, y] = [Buffer.from(a, "utf8"), Buffer.from(b, "utf8")];
  return x.length === y.length && timingSafeEqual(x, y);
}

const header = (headers, name) => {
  const value = headers[name];
  return Array.isArray(value) ? value.join(",") : value;
};

/** Both timestamps, when sent, must be within TOLERANCE_SECONDS of now; at least one must be sent. */
function checkFreshness(headers, nowSeconds) {
  const unix = header(headers, "webhook-timestamp");
  const iso = header(headers, "x-webhook-timestamp");
  if (unix === undefined && iso === undefined) throw new BadRequest("missing webhook-timestamp / X-Webhook-Timestamp");
  if (unix !== undefined) {
    if (!/^\d{1,12}$/.test(unix)) throw new BadRequest("malformed webhook-timestamp");
    if (Math.abs(nowSeconds - Number(unix)) > TOLERANCE_SECONDS) throw new BadRequest("stale webhook-timestamp (more than 5 minutes off)");
  }
  if (iso !== undefined) {
    const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(iso) ? Date.parse(iso) : NaN;
    if (Number.isNaN(ms)) throw new BadRequest("malformed X-Webhook-Timestamp");
    if (Math.abs(nowSeconds - ms / 1000) > TOLERANCE_SECONDS) throw new BadRequest("stale X-Webhook-Timestamp (more than 5 minutes off)");
  }
}

/** The guide's scheme: hex HMAC-SHA256 of the body (the body is already in the canonical form). */
function guideSignatureOk(body, headers) {
  const signature = header(headers, "x-webhook-signature") ?? "";
  if (!/^[0-9a-f]{64}$/.test(signature)) throw new BadRequest("malformed X-Webhook-Signature (64 lowercase hex digits expected)");
  return safeEqual(signature, createHmac("sha256", secret).update(body).digest("hex"));
}

/** Standard Webhooks: base64 HMAC-SHA256 of "id.timestamp.body", sent as "v1,<sig>" (several, space-separated). */
function standardSignatureOk(body, headers) {
  const signatures = (header(headers, "webhook-signature") ?? "").split(" ").filter(Boolean);
  if (signatures.length === 0 || !signatures.every((s) => /^v\d+,[A-Za-z0-9+/=]+$/.test(s))) throw new BadRequest("malformed webhook-signature");
  const signed = `${header(headers, "webhook-id")}.${header(headers, "webhook-timestamp")}.${body}`;
  const expected = `v1,${createHmac("sha256", secret).update(signed).digest("base64")}`;
  return signatures.some((sig) => safeEqual(sig, expected));
}

/** The status and printed line for one request. */
function receive(body, headers) {
  let payload;
  try {
    payload = JSON.parse(body);
  } catch {
    throw new BadRequest("body is not JSON");
  }
  checkFreshness(headers, Date.now() / 1000);
  const verified = secret ? { guide: guideSignatureOk(body, headers), standard: standardSignatureOk(body, headers) } : "no WEBHOOK_SECRET set";
  console.log(JSON.stringify({ event: payload?.event, delivery: header(headers, "webhook-id"), verified, data: payload?.data }));
  const ok = !secret || (verified.guide && verified.standard);
  return ok ? [200, { status: "received" }] : [401, { status: "invalid signature" }];
}

const answer = (res, status, body) => {
  if (!res.headersSent) res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

const server = createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  req.on("error", () => res.destroy());
  req.on("end", () => {
    try {
      if (size > MAX_BODY_BYTES) throw new BadRequest(`body larger than ${MAX_BODY_BYTES} bytes`);
      const [status, body] = receive(Buffer.concat(chunks).toString("utf8"), req.headers);
      answer(res, status, body);
    } catch (error) {
      const bad = error instanceof BadRequest;
      console.error(JSON.stringify({ refused: bad ? error.message : "internal error", delivery: header(req.headers, "webhook-id") ?? null }));
      answer(res, bad ? 400 : 500, { status: bad ? "bad request" : "internal error", error: bad ? error.message : "internal error" });
    }
  });
});
// Malformed HTTP (bad header bytes, ...) gets a 400 from Node; the server goes on.
server.on("clientError", (_error, socket) => socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"));
server.listen(port, () => console.log(`receiver listening on http://localhost:${server.address().port}/webhook`));
