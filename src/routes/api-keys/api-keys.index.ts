import { createRouter } from "../router";
import * as handlers from "./api-keys.handlers";
import * as routes from "./api-keys.routes";

export const apiKeyRoutes = createRouter().openapi(routes.create, handlers.create).openapi(routes.list, handlers.list).openapi(routes.revoke, handlers.revoke);
