import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Every error code the API can answer, with its HTTP status: one table, one place. */
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
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface FieldIssue {
  field: string;
  message: string;
}

/** The single error type: rendered by app.onError as { error: { code, message, fields?, request_id } }. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly fields?: FieldIssue[],
    /** Response headers that go with the error, e.g. Retry-After on a 429. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }

  get status(): ContentfulStatusCode {
    return ERROR_STATUS[this.code];
  }
}

export const notFound = (what: string) => new ApiError("not_found", `${what} not found`);
