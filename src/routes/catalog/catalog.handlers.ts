import type { AppRouteHandler } from "../../app-env";
import type * as routes from "./catalog.routes";
import { eventTypes } from "./catalog.routes";

export const listEventTypes: AppRouteHandler<typeof routes.listEventTypes> = (c) => c.json(eventTypes, 200, { "X-Total-Count": String(eventTypes.length) });
