import { createServer, type Server } from "node:http";
import type { TestProject } from "vitest/node";
import { chaosAnswer } from "../../bench/lib/chaos.mjs";

/**
 * A real webhook receiver on localhost, started once in Node for the whole run.
 * POST /<key>?respond=500,hang,200 answers the n-th request to <key> with the n-th
 * behaviour (the last one repeats): an HTTP status, "hang" (never answers), "close"
 * (drops the connection) or "redirect" (302 to /<key>-redirected on this receiver, so a
 * followed redirect would show up there), "big" (200 with 1 MiB of "é", chunked, no length) or
 * "big-sized" (200 with 4,000 "é" and a Content-Length). respond=chaos answers each delivery's n-th request
 * (webhook-id header) as chaosAnswer(id, n) of bench/lib/chaos.mjs decides: the soak's fault mix.
 * GET /__requests/<key> lists what <key> got.
 */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  received_at: number;
}

const received = new Map<string, ReceivedRequest[]>();

function behaviourFor(url: URL, log: ReceivedRequest[], deliveryId = ""): string {
  const respond = url.searchParams.get("respond") ?? "200";
  if (respond === "chaos") return String(chaosAnswer(deliveryId, log.filter((r) => r.headers["webhook-id"] === deliveryId).length + 1));
  const script = respond.split(",");
  return script[Math.min(log.length, script.length - 1)];
}

function startReceiver(): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const [, first, second] = url.pathname.split("/");
    if (req.method === "GET" && first === "__requests") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(received.get(second) ?? []));
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const log = received.get(first) ?? [];
      received.set(first, log);
      const behaviour = behaviourFor(url, log, req.headers["webhook-id"] as string | undefined);
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      log.push({ method: req.method ?? "", path: url.pathname, headers, body: Buffer.concat(chunks).toString("utf8"), received_at: Date.now() });
      if (behaviour === "hang") return;
      if (behaviour === "close") return req.socket.destroy();
      if (behaviour === "redirect") {
        return res.writeHead(302, { location: `http://localhost:${req.socket.localPort}/${first}-redirected` }).end();
      }
      if (behaviour === "big") {
        res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
        for (let i = 0; i < 64; i++) res.write("é".repeat(8192));
        return res.end();
      }
      if (behaviour === "big-sized") return res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end("é".repeat(4000));
      res.writeHead(Number(behaviour), { "content-type": "application/json" }).end(JSON.stringify({ status: "received", key: first }));
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

export default async function setup(project: TestProject) {
  const server = await startReceiver();
  const address = server.address();
  project.provide("receiverPort", typeof address === "object" && address ? address.port : 0);
  return () => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
}
