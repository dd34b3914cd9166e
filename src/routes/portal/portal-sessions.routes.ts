import { createRoute, z } from "@hono/zod-openapi";
import { DEFAULT_LINK_TTL_SECONDS, MAX_LINK_TTL_SECONDS, SESSION_TTL_MS } from "../../services/portal-sessions";
import { authErrors, bodyErrors, jsonBody, jsonResponse } from "../common.schemas";

/** Where a link is opened (src/portal/portal.index.tsx); the token rides in its query string once. */
export const PORTAL_OPEN_PATH = "/portal/open";

const CreatePortalSession = z
  .object({
    read_only: z.boolean().optional().openapi({ description: "The session sees everything and changes nothing (default false)" }),
    expires_in_seconds: z
      .number()
      .int("expires_in_seconds must be a whole number")
      .min(60, "expires_in_seconds must be at least 60")
      .max(MAX_LINK_TTL_SECONDS, `expires_in_seconds must be at most ${MAX_LINK_TTL_SECONDS}`)
      .optional()
      .openapi({ description: `How long the link can be opened, once (default ${DEFAULT_LINK_TTL_SECONDS})`, example: 3600 }),
  })
  .openapi("CreatePortalSession");

const PortalSessionLink = z
  .object({
    url: z
      .string()
      .openapi({ description: "The one-time link; opening it starts a portal session", example: "https://webhooks.example.com/portal/open?token=ptl_…" }),
    expires_at: z.string().openapi({ description: "The link must be opened before this time", example: "2024-11-24T13:00:00Z" }),
  })
  .openapi("PortalSessionLink");

export const create = createRoute({
  operationId: "createPortalSession",
  method: "post",
  path: "/api/v1/portal/sessions",
  tags: ["Portal"],
  security: [{ apiKey: [] }],
  summary: "A one-time link to the tenant portal",
  description:
    "Answers a link that opens the tenant's portal (endpoints, delivery log, event types) in a browser without an API key. " +
    "The link works once, until expires_at; opening it sets a session cookie (HttpOnly, SameSite=Strict, Secure outside localhost) " +
    `that lasts ${SESSION_TTL_MS / 3_600_000} h. A read_only session sees everything and changes nothing: the server refuses its changes. ` +
    "The body is optional.",
  request: { body: { ...jsonBody(CreatePortalSession, { read_only: true, expires_in_seconds: 3600 }), required: false } },
  responses: {
    201: jsonResponse(PortalSessionLink, "The link", {
      url: "https://webhooks.example.com/portal/open?token=ptl_Jk3v9QyZ0bX2mW7nR4tL8sD1fH6gC5aE0uI9oP3qK2w",
      expires_at: "2024-11-24T13:00:00Z",
    }),
    ...authErrors,
    ...bodyErrors,
  },
});
