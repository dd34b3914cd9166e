import { describe, expect, it } from "vitest";
import { DomainError, ERROR_CODES, validationFailed } from "../../src/lib/errors";
import { ERROR_STATUS } from "../../src/routes/error-response";

/** The sources of the layers that must not know HTTP, as text (bundled by Vite: workerd has no file system). */
const HTTP_FREE_SOURCES = import.meta.glob(["../../src/services/**/*.ts", "../../src/delivery/**/*.ts", "../../src/lib/**/*.ts"], {
  query: "?raw",
  import: "default",
  eager: true,
}) as Record<string, string>;

const importsOf = (source: string) => [...source.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gms)].map((m) => m[1]);

describe("domain errors and the HTTP layer", () => {
  it("services, delivery and lib import nothing of HTTP: no hono, no middleware, no error rendering", () => {
    expect(Object.keys(HTTP_FREE_SOURCES).length).toBeGreaterThan(30);
    const offending = Object.entries(HTTP_FREE_SOURCES).flatMap(([file, source]) =>
      importsOf(source)
        .filter((from) => /^(@hono\/|hono($|\/))|\/middleware\/|\/app-env$|\/routes\/(router|error-response)$/.test(from))
        .map((from) => `${file} imports ${from}`),
    );
    expect(offending).toEqual([]);
  });

  it("a DomainError carries a code, a message and typed details, and nothing of HTTP", () => {
    const error = new DomainError("rate_limited", "Too many requests", { retryAfterSeconds: 60 });
    expect([error.code, error.message, error.details]).toEqual(["rate_limited", "Too many requests", { retryAfterSeconds: 60 }]);
    expect(Object.keys(error)).not.toContain("status");
    expect("headers" in error).toBe(false);
  });

  it("validationFailed names every field in its message, in order", () => {
    const error = validationFailed([
      { field: "url", message: "must be https" },
      { field: "events", message: "at least one event type is required" },
    ]);
    expect(error.code).toBe("validation_failed");
    expect(error.message).toBe("url: must be https; events: at least one event type is required");
    expect(error.details.fields).toHaveLength(2);
  });

  it("every code has exactly one HTTP status, in the HTTP layer's table", () => {
    expect(Object.keys(ERROR_STATUS).sort()).toEqual([...ERROR_CODES].sort());
  });
});
