import { createRouter } from "../router";
import * as handlers from "./tenants.handlers";
import * as routes from "./tenants.routes";

export const adminRoutes = createRouter()
  .openapi(routes.create, handlers.create)
  .openapi(routes.list, handlers.list)
  .openapi(routes.disable, handlers.disable)
  .openapi(routes.enable, handlers.enable)
  .openapi(routes.issueKey, handlers.issueKey);
