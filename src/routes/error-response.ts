import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "../app-env";
import { MisconfiguredError, reportMisconfiguration } from "../config";
import { loggableError } from "../lib/error-log";
import { DomainError, type ErrorCode } from "../lib/errors";

/** The HTTP status of every error code: one table, one place (a new code does not compile without one). */
export const ERROR_STATUS = {
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  invalid_json: 400,
  validation_failed: 422,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unsafe_url: 422,
  conflict: 409,
  quota_exceeded: 403,
  rate_limited: 429,
  idempotency_key_reused: 422,
  internal_error: 500,
  misconfigured: 503,
} as const satisfies Record<ErrorCode, ContentfulStatusCode>;

export const errorStatus = (error: DomainError): ContentfulStatusCode => ERROR_STATUS[error.code];

/** The headers an error's details call for: Retry-After on a 429, Allow on a 405. */
function errorHeaders({ details }: DomainError): Record<string, string> {
  const headers: Record<string, string> = {};
  if (details.retryAfterSeconds !== undefined) headers["Retry-After"] = String(details.retryAfterSeconds);
  if (details.allowedMethods) headers.Allow = details.allowedMethods.join(", ");
  return headers;
}

/** The one error response of the API: { error: { code, message, fields?, request_id } }, its status and headers. */
export function renderError(c: Context<AppEnv>, error: DomainError) {
  const { fields } = error.details;
  const body = { code: error.code, message: error.message, ...(fields ? { fields } : {}), request_id: c.var.requestId };
  return c.json({ error: body }, errorStatus(error), errorHeaders(error));
}

/** Hono's own HTTP errors (malformed JSON, a body that is not JSON, ...) mapped onto our codes. */
const HTTP_EXCEPTIONS: Partial<Record<number, [ErrorCode, string]>> = {
  400: ["invalid_json", "Request body is not valid JSON"],
  413: ["payload_too_large", "Request body too large"],
  415: ["unsupported_media_type", "Request body must be sent as Content-Type: application/json"],
};

function fromHttpException(error: HTTPException): DomainError {
  const [code, message] = HTTP_EXCEPTIONS[error.status] ?? ["internal_error", error.message || "Request failed"];
  return new DomainError(code, message);
}

/**
 * The app's onError: our errors as they are, Hono's mapped onto our codes, a misconfigured
 * deployment as 503 naming the variable; anything else is logged under the request id and
 * answered 500 without its detail.
 */
export function handleError(error: Error, c: Context<AppEnv>) {
  if (error instanceof DomainError) return renderError(c, error);
  if (error instanceof HTTPException) return renderError(c, fromHttpException(error));
  if (error instanceof MisconfiguredError) {
    reportMisconfiguration("fetch", error);
    return renderError(c, new DomainError("misconfigured", error.message));
  }
  console.error(JSON.stringify({ request_id: c.var.requestId, ...loggableError(error) }));
  return renderError(c, new DomainError("internal_error", "Internal error; quote the request id when reporting it"));
}
