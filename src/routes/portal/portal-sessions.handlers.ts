import type { AppRouteHandler } from "../../app-env";
import { createPortalSession, DEFAULT_LINK_TTL_SECONDS } from "../../services/portal-sessions";
import type * as routes from "./portal-sessions.routes";
import { PORTAL_OPEN_PATH } from "./portal-sessions.routes";

export const create: AppRouteHandler<typeof routes.create> = async (c) => {
  const body = c.req.valid("json") ?? {};
  const { token, expires_at } = await createPortalSession(c.var.ctx, {
    readOnly: body.read_only ?? false,
    linkTtlSeconds: body.expires_in_seconds ?? DEFAULT_LINK_TTL_SECONDS,
  });
  const url = new URL(PORTAL_OPEN_PATH, c.req.url);
  url.searchParams.set("token", token);
  return c.json({ url: url.toString(), expires_at }, 201);
};
