import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import { LIMITS } from "../env";
import { DomainError, validationFailed } from "../lib/errors";
import { jsonNestedDeeperThan, parseJsonExactly, undeliverableNumbers } from "../lib/exact-json";

/** The media types the route validators read as JSON (hono's validator: application/json, application/*+json). */
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

function decodeUtf8(bytes: ArrayBuffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new DomainError("invalid_json", "Request body is not valid UTF-8");
  }
}

/** The body's JSON, exact (src/lib/exact-json.ts), or the error that names what is wrong. */
function readJson(text: string): unknown {
  if (jsonNestedDeeperThan(text, LIMITS.maxBodyDepth)) {
    const message = `nested more than ${LIMITS.maxBodyDepth} levels deep`;
    throw validationFailed([{ field: "(body)", message }]);
  }
  let value: unknown;
  try {
    value = parseJsonExactly(text);
  } catch (error) {
    throw new DomainError("invalid_json", `Request body is not valid JSON: ${(error as Error).message}`);
  }
  const fields = undeliverableNumbers(value);
  if (fields.length > 0) throw validationFailed(fields);
  return value;
}

/**
 * The one reader of JSON request bodies. It reads the bytes once: invalid UTF-8 and invalid
 * JSON (a key repeated with another value included) are 400 invalid_json; numbers that are not
 * finite, or integers longer than Python reads, are 422 naming the field. The exact value is
 * `c.var.jsonBody` (big integers as LosslessNumber); the route validators then parse the same
 * bytes (cached by c.req.arrayBuffer(); valid UTF-8, so they decode to the same text) with
 * JSON.parse: big integers rounded, which is fine for checking a shape. An empty
 * body is left to the route (an optional body, or 400). Runs after authentication.
 */
export const exactJsonBody = createMiddleware<AppEnv>(async (c, next) => {
  const mediaType = (c.req.header("Content-Type") ?? "").split(";")[0].trim();
  if (!JSON_MEDIA_TYPE.test(mediaType)) return next();
  const bytes = await c.req.arrayBuffer();
  if (bytes.byteLength === 0) return next();
  const text = decodeUtf8(bytes);
  c.set("jsonBody", readJson(text));
  await next();
});

/** The request's exact JSON body, as exactJsonBody read it (the route's validator has checked its shape). */
export const exactBody = <T>(c: Context<AppEnv>): T => c.var.jsonBody as T;
