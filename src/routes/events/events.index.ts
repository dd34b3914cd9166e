import { createRouter } from "../router";
import * as handlers from "./events.handlers";
import * as routes from "./events.routes";

export const eventRoutes = createRouter()
  .openapi(routes.list, handlers.list)
  .openapi(routes.get, handlers.get)
  .openapi(routes.redeliver, handlers.redeliver)
  .openapi(routes.publish, handlers.publish)
  .openapi(routes.publishBatch, handlers.publishBatch);
