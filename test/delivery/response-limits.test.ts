import { describe, expect, it } from "vitest";
import { attemptDelivery, readExcerpt, retryAfterSeconds } from "../../src/delivery/attempt";
import { importSigningKey } from "../../src/delivery/signing";
import { LIMITS } from "../../src/env";
import { eventually, finishedDelivery, published, receiverWebhook } from "../helpers/delivery";
import { createTenant, receiver, uniqueKey } from "../helpers/harness";

const KiB = 1024;
const MiB = 1024 * KiB;
const LIMIT = LIMITS.responseReadBytes;
const CHARS = LIMITS.responseExcerptChars;

interface Counter {
  bytes: number;
  cancelled: boolean;
}

/** `total` bytes of `fill`, made one `chunkSize` chunk per pull (never held whole), counted as they are produced. */
function lazyBytes(total: number, chunkSize: number, fill = 0x61): { stream: ReadableStream<Uint8Array>; counter: Counter } {
  const counter: Counter = { bytes: 0, cancelled: false };
  const chunk = new Uint8Array(chunkSize).fill(fill);
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const n = Math.min(chunkSize, total - counter.bytes);
        if (n <= 0) return controller.close();
        counter.bytes += n;
        controller.enqueue(chunk.slice(0, n));
      },
      cancel() {
        counter.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, counter };
}

/** `source` passed through chunk by chunk, only when pulled, counting the bytes that pass. */
function counting(source: ReadableStream<Uint8Array>): { stream: ReadableStream<Uint8Array>; counter: Counter } {
  const counter: Counter = { bytes: 0, cancelled: false };
  const reader = source.getReader();
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        counter.bytes += value.byteLength;
        controller.enqueue(value);
      },
      async cancel(reason) {
        counter.cancelled = true;
        await reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, counter };
}

/** A stream of the given byte chunks, one per pull. */
function chunked(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (i < chunks.length) controller.enqueue(chunks[i++]);
        else controller.close();
      },
    },
    { highWaterMark: 0 },
  );
}

function split(bytes: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.slice(i, i + size));
  return chunks;
}

describe("readExcerpt: a response body is read through a byte limit", () => {
  it("the byte limit is 4 bytes per excerpt character", () => {
    expect(LIMITS.responseReadBytes).toBe(LIMITS.responseExcerptChars * 4);
  });

  it("reads a lazily generated 100 MB body only up to the limit, then cancels it", async () => {
    const chunkSize = 16 * KiB;
    const { stream, counter } = lazyBytes(100 * 1000 * 1000, chunkSize);
    const excerpt = await readExcerpt(new Response(stream), LIMIT, CHARS);
    expect(excerpt).toBe("a".repeat(CHARS));
    expect(counter.bytes).toBeLessThanOrEqual(LIMIT + chunkSize);
    expect(counter.cancelled).toBe(true);
  });

  it("a gzip bomb: decompressed bytes read stop at the limit, compressed bytes consumed are a tiny fraction", async () => {
    // 64 MiB of "a" compresses about 1,000:1; the compressed body is collected once, then served in small chunks.
    const compressed = new Uint8Array(await new Response(lazyBytes(64 * MiB, 64 * KiB).stream.pipeThrough(new CompressionStream("gzip"))).arrayBuffer());
    expect(compressed.byteLength).toBeLessThan(MiB);
    const compressedSide = counting(chunked(split(compressed, 256)));
    const decompressedSide = counting(compressedSide.stream.pipeThrough(new DecompressionStream("gzip")));

    const excerpt = await readExcerpt(new Response(decompressedSide.stream), LIMIT, CHARS);

    expect(excerpt).toBe("a".repeat(CHARS));
    expect(decompressedSide.counter.bytes).toBeLessThanOrEqual(LIMIT + 64 * KiB);
    expect(decompressedSide.counter.cancelled).toBe(true);
    expect(compressedSide.counter.bytes / compressed.byteLength).toBeLessThan(0.05);
  });

  it("a multi-byte UTF-8 body gives exactly 1,024 characters, no U+FFFD where a character was cut", async () => {
    expect(await readExcerpt(new Response("é".repeat(10_000)), LIMIT, CHARS)).toBe("é".repeat(CHARS));
    // Chunks of 3 bytes split every other "é" between two chunks; an odd limit cuts one at the limit.
    const bytes = new TextEncoder().encode("é".repeat(10_000));
    expect(await readExcerpt(new Response(chunked(split(bytes, 3))), LIMIT, CHARS)).toBe("é".repeat(CHARS));
    expect(await readExcerpt(new Response(chunked(split(bytes, 3))), 2 * CHARS + 1, 2 * CHARS)).toBe("é".repeat(CHARS));
  });

  it("never ends in half a surrogate pair", async () => {
    const excerpt = await readExcerpt(new Response("😀".repeat(2000)), LIMIT, 1023);
    expect(excerpt).toBe("😀".repeat(511));
  });

  it("a short body is read whole; an empty or absent body gives null", async () => {
    expect(await readExcerpt(new Response('{"ok":true}'), LIMIT, CHARS)).toBe('{"ok":true}');
    expect(await readExcerpt(new Response(""), LIMIT, CHARS)).toBeNull();
    expect(await readExcerpt(new Response(null, { status: 204 }), LIMIT, CHARS)).toBeNull();
  });

  it("a body that fails while read, or was already read, gives null", async () => {
    let cancelled = false;
    let pulls = 0;
    const failing = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (pulls++ === 0) controller.enqueue(new TextEncoder().encode("partial"));
          else controller.error(new Error("connection reset"));
        },
        cancel() {
          cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    expect(await readExcerpt(new Response(failing), LIMIT, CHARS)).toBeNull();
    expect(cancelled).toBe(false); // an errored stream has nothing left to cancel
    const used = new Response("already read");
    await used.text();
    expect(await readExcerpt(used, LIMIT, CHARS)).toBeNull();
  });
});

describe("retryAfterSeconds", () => {
  const now = Date.parse("2025-03-01T12:00:00Z");

  it("reads delta-seconds, capped at one hour", () => {
    expect(retryAfterSeconds("120", now)).toBe(120);
    expect(retryAfterSeconds(" 0 ", now)).toBe(0);
    expect(retryAfterSeconds("7200", now)).toBe(3600);
    expect(retryAfterSeconds("99999999999999999999999", now)).toBe(3600);
  });

  it("reads an HTTP-date relative to now; a past date is 0", () => {
    const ahead = new Date(Date.now() + 30_000).toUTCString();
    const seconds = retryAfterSeconds(ahead, Date.now());
    expect(seconds).toBeGreaterThanOrEqual(29);
    expect(seconds).toBeLessThanOrEqual(30);
    expect(retryAfterSeconds("Sat, 01 Mar 2025 12:00:30 GMT", now)).toBe(30);
    expect(retryAfterSeconds("Saturday, 01-Mar-25 12:01:00 GMT", now)).toBe(60);
    expect(retryAfterSeconds("Sat Mar  1 12:00:45 2025", now)).toBe(45);
    expect(retryAfterSeconds("Sat, 01 Mar 2025 18:00:00 GMT", now)).toBe(3600);
    expect(retryAfterSeconds("Fri, 28 Feb 2025 12:00:00 GMT", now)).toBe(0);
  });

  it("is null when absent or unparseable", () => {
    expect(retryAfterSeconds(null, now)).toBeNull();
    expect(retryAfterSeconds("", now)).toBeNull();
    expect(retryAfterSeconds("soon", now)).toBeNull();
    expect(retryAfterSeconds("-5", now)).toBeNull();
    expect(retryAfterSeconds("1.5", now)).toBeNull();
    expect(retryAfterSeconds("2025-03-01", now)).toBeNull();
  });
});

describe("attemptDelivery against the real receiver", () => {
  const target = async (url: string) => ({
    webhookId: "wh",
    deliveryId: crypto.randomUUID(),
    url,
    signingKeys: { current: await importSigningKey("whsec-test"), previous: null },
  });

  it("keeps a 5xx response's Retry-After, and none for a success", async () => {
    const busy = await attemptDelivery(await target(receiver.url(uniqueKey(), "retry-after-120")), "{}", 5000);
    expect(busy).toMatchObject({ statusCode: 503, class: "retryable", retryAfterSeconds: 120, responseExcerpt: "busy" });
    const ok = await attemptDelivery(await target(receiver.url(uniqueKey())), "{}", 5000);
    expect(ok).toMatchObject({ statusCode: 200, class: "success", retryAfterSeconds: null });
    const failed = await attemptDelivery(await target(receiver.url(uniqueKey(), "hang")), "{}", 200);
    expect(failed).toMatchObject({ statusCode: null, class: "retryable", retryAfterSeconds: null, responseExcerpt: null });
  });
});

describe("hostile response bodies, delivered through the real queue and receiver", () => {
  async function deliverThrough(respond: string) {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, respond);
    await published(tenant, "query.created");
    return { key, delivery: await finishedDelivery(tenant, webhook.id) };
  }

  it.each(["br-bomb", "gzip-bomb"])("%s (256 MiB of zeros): success, excerpt of 1,024 characters at most", async (respond) => {
    const { delivery } = await deliverThrough(respond);
    expect(delivery).toMatchObject({ status: "success", attempts: 1, last_status_code: 200 });
    expect(delivery.last_response_excerpt?.length ?? 0).toBeLessThanOrEqual(CHARS);
    // fetch decompressed the body: the excerpt is the zeros, not the compressed bytes.
    expect(delivery.last_response_excerpt).toBe("\0".repeat(CHARS));
    expect(delivery.attempt_log[0].response_excerpt).toBe("\0".repeat(CHARS));
  });

  it("huge (100 MB streamed): success, excerpt of 1,024 characters, and the receiver wrote far less than 100 MB", async () => {
    const { key, delivery } = await deliverThrough("huge");
    expect(delivery).toMatchObject({ status: "success", attempts: 1, last_status_code: 200, last_response_excerpt: "a".repeat(CHARS) });
    const [request] = await eventually(async () => {
      const requests = await receiver.requests(key);
      return requests[0]?.bytes_written !== undefined ? requests : null;
    });
    expect(request.bytes_written).toBeLessThan(16 * MiB);
  });
});
