import { createRouter } from "../router";
import * as handlers from "./queries.handlers";
import * as routes from "./queries.routes";

export const queryRoutes = createRouter()
  .openapi(routes.create, handlers.create)
  .openapi(routes.list, handlers.list)
  .openapi(routes.get, handlers.get)
  .openapi(routes.escalate, handlers.escalate)
  .openapi(routes.resolve, handlers.resolve)
  .openapi(routes.addFeedback, handlers.addFeedback);
