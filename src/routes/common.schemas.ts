import { z } from "@hono/zod-openapi";

/** The one error shape of the API. */
export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "validation_failed" }),
      message: z.string().openapi({ example: "events: at least one event type is required" }),
      fields: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
      request_id: z.string(),
    }),
  })
  .openapi("Error");

export const errorResponse = (description: string) => ({ description, content: { "application/json": { schema: ErrorSchema } } });

/** Error responses shared by every authenticated route. */
export const authErrors = {
  // Every /api route limits and reads the JSON body it is sent (app.ts), whether or not the route uses one.
  400: errorResponse("invalid_json: a JSON body was sent that is not valid JSON or not valid UTF-8 (any route reads a body it is sent)"),
  413: errorResponse("payload_too_large: the request body is larger than 256 KiB"),
  422: errorResponse("validation_failed: a JSON body was sent with a number that is not finite, or nested too deep"),
  401: errorResponse("unauthorized: missing, invalid or revoked API key (or admin token), or the key's tenant is disabled"),
  429: {
    ...errorResponse(
      "rate_limited: too many requests for this API key (600 per 60 s; POST /webhooks/{id}/test 10 per 10 s), " +
        "or too many failed authentications from this client (20 per 60 s)",
    ),
    headers: z.object({ "Retry-After": z.string().openapi({ description: "Seconds to wait: the limit's period", example: "60" }) }),
  },
} as const;

export const notFoundError = { 404: errorResponse("Unknown id, or a resource of another tenant") } as const;

export const bodyErrors = {
  400: errorResponse("invalid_json: the body is not valid JSON (a key repeated with another value included) or not valid UTF-8"),
  413: errorResponse("Request body too large"),
  415: errorResponse("Request body is not application/json"),
  422: errorResponse("validation_failed: invalid fields, named in `fields` (a number that is not finite, e.g. 1e400, included)"),
} as const;

export const conflictError = { 409: errorResponse("The resource is not in a state that allows this") } as const;

/** Per-tenant quotas (MAX_WEBHOOKS_PER_TENANT, MAX_FANOUT_PER_EVENT). */
export const quotaError = (what: string) => ({ 403: errorResponse(`quota_exceeded: ${what}; the message names the limit`) }) as const;

export const IdParams = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" }, example: "550e8400-e29b-41d4-a716-446655440000" }),
});

/** skip/limit as in the guide's list endpoints. */
export const pageQuery = (defaultLimit: number) => ({
  skip: z.coerce.number().int().min(0).default(0).openapi({ example: 0 }),
  limit: z.coerce.number().int().min(1).max(100).default(defaultLimit).openapi({ example: defaultLimit }),
});

/** Query-string booleans: only "true" and "false". */
export const booleanQuery = z
  .enum(["true", "false"])
  .transform((v) => v === "true")
  .optional();

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});

export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
