/**
 * Every error code the API can answer: stable names callers may match on. What each means over
 * HTTP (its status, its headers) is the HTTP layer's business: src/routes/error-response.ts.
 */
export const ERROR_CODES = [
  "unauthorized",
  "not_found",
  "method_not_allowed",
  "invalid_json",
  "validation_failed",
  "payload_too_large",
  "unsupported_media_type",
  "unsafe_url",
  "conflict",
  "quota_exceeded",
  "rate_limited",
  "idempotency_key_reused",
  "internal_error",
  "misconfigured",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface FieldIssue {
  field: string;
  message: string;
}

/** What an error carries beyond its code and message, each for the codes that have it. */
export interface ErrorDetails {
  /** The invalid inputs, one by one (validation_failed, unsafe_url). */
  fields?: FieldIssue[];
  /** How long to wait before trying again (rate_limited). */
  retryAfterSeconds?: number;
  /** The methods the path does serve (method_not_allowed). */
  allowedMethods?: string[];
}

/**
 * The one error type: services, middleware and the portal throw it; it knows nothing of HTTP.
 * The app's onError renders it as { error: { code, message, fields?, request_id } }.
 */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
    this.name = "DomainError";
  }
}

export const notFound = (what: string) => new DomainError("not_found", `${what} not found`);

/** validation_failed naming each field, its message the fields' problems joined. */
export const validationFailed = (fields: FieldIssue[]) =>
  new DomainError("validation_failed", fields.map((f) => `${f.field}: ${f.message}`).join("; "), { fields });
