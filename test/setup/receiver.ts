import { createServer, type Server, type ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { createBrotliCompress, createGzip, constants as zlibConstants } from "node:zlib";
import type { TestProject } from "vitest/node";
import { chaosAnswer } from "../../bench/lib/chaos.mjs";
import { deliveryKey } from "./delivery-key";

/**
 * A real webhook receiver on localhost, started once in Node for the whole run.
 * POST /<key>?respond=500,hang,200 answers the n-th request to <key> with the n-th
 * behaviour (the last one repeats): an HTTP status, "hang" (answers only when released), "close"
 * (drops the connection) or "redirect" (302 to /<key>-redirected on this receiver, so a
 * followed redirect would show up there), "big" (200 with 1 MiB of "é", chunked, no length) or
 * "big-sized" (200 with 4,000 "é" and a Content-Length). respond=chaos answers each delivery's n-th request
 * (deliveryKey: its webhook and webhook-id header) as chaosAnswer(key, n) of bench/lib/chaos.mjs decides: the soak's fault mix.
 * Hostile bodies: "br-bomb" and "gzip-bomb" (200, Content-Encoding br or gzip, 256 MiB of zeros
 * compressed to a few hundred KB at most, Content-Length the compressed size), "huge" (200,
 * up to 100 MB streamed in 64 KiB chunks at the client's pace; the request record's
 * bytes_written says how many it took once the response has ended or closed), and
 * "retry-after-<n>" (503 with Retry-After: <n>).
 * GET /__requests/<key> lists what <key> got; POST /__release/<key> answers 200 to the
 * requests to <key> still hanging, so a test decides when a hanging attempt ends.
 */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  received_at: number;
  /** "huge" only: bytes handed to the connection before the response ended or the client went away. */
  bytes_written?: number;
}

const received = new Map<string, ReceivedRequest[]>();
const hanging = new Map<string, ServerResponse[]>();

function behaviourFor(url: URL, log: ReceivedRequest[], headers: Record<string, unknown>): string {
  const respond = url.searchParams.get("respond") ?? "200";
  if (respond === "chaos") return String(chaosAnswer(deliveryKey(headers), log.filter((r) => deliveryKey(r.headers) === deliveryKey(headers)).length + 1));
  const script = respond.split(",");
  return script[Math.min(log.length, script.length - 1)];
}

const BOMB_BYTES = 256 * 1024 * 1024;
const HUGE_BYTES = 100 * 1000 * 1000;
const HUGE_CHUNK = Buffer.alloc(64 * 1024, "a");

/** `total` zero bytes through a compressor, streamed 1 MiB at a time (never held whole). */
function compressedZeros(compressor: NodeJS.ReadWriteStream, total: number): Promise<Buffer> {
  const zeros = Buffer.alloc(1024 * 1024);
  const source = Readable.from(
    (function* () {
      for (let n = 0; n < total; n += zeros.length) yield zeros;
    })(),
  );
  return buffer(source.pipe(compressor));
}

/** The bombs' bodies, made once when the receiver starts (about 2 s, off the event loop). */
let bombs: Promise<{ br: Buffer; gzip: Buffer }> | undefined;
function makeBombs() {
  bombs ??= Promise.all([
    compressedZeros(createBrotliCompress({ params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5 } }), BOMB_BYTES),
    compressedZeros(createGzip({ level: 9 }), BOMB_BYTES),
  ]).then(([br, gzip]) => ({ br, gzip }));
  return bombs;
}

function startReceiver(): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const [, first, second] = url.pathname.split("/");
    if (req.method === "GET" && first === "__requests") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(received.get(second) ?? []));
      return;
    }
    if (req.method === "POST" && first === "__release") {
      const released = hanging.get(second) ?? [];
      hanging.delete(second);
      for (const hung of released) hung.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "received", key: second }));
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ released: released.length }));
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const log = received.get(first) ?? [];
      received.set(first, log);
      const behaviour = behaviourFor(url, log, req.headers);
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      log.push({ method: req.method ?? "", path: url.pathname, headers, body: Buffer.concat(chunks).toString("utf8"), received_at: Date.now() });
      if (behaviour === "hang") return void hanging.set(first, [...(hanging.get(first) ?? []), res]);
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
      if (behaviour === "br-bomb" || behaviour === "gzip-bomb") {
        const encoding = behaviour === "br-bomb" ? "br" : "gzip";
        void makeBombs().then((bodies) => {
          const body = bodies[encoding];
          res.writeHead(200, { "content-type": "text/plain", "content-encoding": encoding, "content-length": String(body.length) }).end(body);
        });
        return;
      }
      if (behaviour === "huge") {
        const record = log[log.length - 1];
        let written = 0;
        let gone = false;
        res.on("close", () => {
          gone = true;
          record.bytes_written = written;
        });
        res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
        const pump = () => {
          while (!gone && written < HUGE_BYTES) {
            const chunk = HUGE_BYTES - written < HUGE_CHUNK.length ? HUGE_CHUNK.subarray(0, HUGE_BYTES - written) : HUGE_CHUNK;
            written += chunk.length;
            if (!res.write(chunk)) return void res.once("drain", pump);
          }
          if (!gone) res.end(() => (record.bytes_written = written));
        };
        return pump();
      }
      if (behaviour.startsWith("retry-after-")) {
        return res.writeHead(503, { "content-type": "text/plain", "retry-after": behaviour.slice("retry-after-".length) }).end("busy");
      }
      res.writeHead(Number(behaviour), { "content-type": "application/json" }).end(JSON.stringify({ status: "received", key: first }));
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

export default async function setup(project: TestProject) {
  const server = await startReceiver();
  await makeBombs();
  const address = server.address();
  project.provide("receiverPort", typeof address === "object" && address ? address.port : 0);
  return () => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
}
