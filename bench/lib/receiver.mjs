// A local webhook receiver (plain node:http) for bench and soak. Every request is recorded:
// which delivery (`delivery`: the webhook, X-Webhook-ID, and the webhook-id header, which is unique per
// webhook only: a first send's is its event's id at every endpoint) and webhook, the n-th request for that
// delivery (`attempt`, counted here), the bench sequence id from data.query_id, when it arrived
// and what was answered. It also tracks how many requests are in flight (peak and time-average),
// which is the delivery concurrency the Worker actually achieved.
import { createServer } from "node:http";

const now = () => performance.timeOrigin + performance.now();

/**
 * behaviour(request) returns what to answer: an HTTP status number, "hang" (hold the request
 * open for hangMs, then drop it), "close" (destroy the connection) or a response object
 * { status, headers, body } sent as is (e.g. a compressed body with its Content-Encoding).
 * Default: 200 at once.
 */
export async function startReceiver({ behaviour = () => 200, hangMs = 15_000, parseBody = true } = {}) {
  const requests = [];
  const attemptsByDelivery = new Map();
  const hanging = new Set();
  let inFlight = 0;
  let peak = 0;
  let area = 0; // ∫ inFlight dt (ms)
  let lastChange = now();
  const track = (delta) => {
    const t = now();
    area += inFlight * (t - lastChange);
    lastChange = t;
    inFlight += delta;
    peak = Math.max(peak, inFlight);
  };

  let socketCount = 0;
  const server = createServer((req, res) => {
    const receivedAt = now();
    req.socket.benchId ??= ++socketCount;
    track(+1);
    let done = false;
    const finish = () => {
      if (!done) track(-1);
      done = true;
    };
    res.on("close", finish);
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const deliveryId = req.headers["webhook-id"] ?? null;
      const webhookId = req.headers["x-webhook-id"] ?? null;
      const delivery = deliveryId ? `${webhookId} ${deliveryId}` : null;
      const attempt = delivery ? (attemptsByDelivery.get(delivery) ?? 0) + 1 : 0;
      if (delivery) attemptsByDelivery.set(delivery, attempt);
      let seq = null;
      if (parseBody && deliveryId) {
        try {
          seq = JSON.parse(Buffer.concat(chunks).toString("utf8")).data?.query_id ?? null;
        } catch {
          // not JSON: recorded without a sequence id
        }
      }
      const record = {
        path: req.url,
        socket: req.socket.benchId,
        delivery,
        deliveryId,
        webhookId,
        attempt,
        seq,
        receivedAt,
        answer: null,
      };
      const answer = deliveryId ? behaviour(record) : 200;
      record.answer = typeof answer === "object" && answer !== null ? (answer.status ?? 200) : answer;
      requests.push(record);
      if (answer === "hang") {
        hanging.add(res);
        const timer = setTimeout(() => {
          hanging.delete(res);
          req.socket.destroy();
        }, hangMs);
        res.on("close", () => clearTimeout(timer));
        return;
      }
      if (answer === "close") return req.socket.destroy();
      if (typeof answer === "object" && answer !== null) return res.writeHead(answer.status ?? 200, answer.headers ?? {}).end(answer.body ?? "");
      res.writeHead(answer, { "content-type": "application/json" }).end('{"status":"received"}');
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise((resolve) => server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, resolve));
  const { port } = server.address();

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    /** Peak in-flight requests since mark(), and the in-flight time integral (request·ms) since `from`. */
    concurrency(from) {
      track(0);
      return { peak, requestMs: area - (from?.area ?? 0) };
    },
    /** A marker for concurrency(): resets the peak. */
    mark() {
      track(0);
      peak = inFlight;
      return { area, at: lastChange, count: requests.length };
    },
    close() {
      for (const res of hanging) res.socket?.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
