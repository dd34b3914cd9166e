import { createRouter } from "../router";
import * as handlers from "./portal-sessions.handlers";
import * as routes from "./portal-sessions.routes";

export const portalSessionRoutes = createRouter().openapi(routes.create, handlers.create);
