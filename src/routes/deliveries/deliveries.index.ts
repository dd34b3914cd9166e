import { createRouter } from "../router";
import * as handlers from "./deliveries.handlers";
import * as routes from "./deliveries.routes";

export const deliveryRoutes = createRouter()
  .openapi(routes.list, handlers.list)
  .openapi(routes.get, handlers.get)
  .openapi(routes.test, handlers.test)
  .openapi(routes.retry, handlers.retry)
  .openapi(routes.recover, handlers.recover);
