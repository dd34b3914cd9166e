import type { AppEnv } from "../app-env";
import type { PortalSession } from "../services/portal-sessions";

/** The app's environment plus the portal session the request's cookie names. */
export interface PortalEnv {
  Bindings: AppEnv["Bindings"] & {
    /** CSP frame-ancestors of the portal's pages: who may embed it in a frame (default 'none'). */
    PORTAL_FRAME_ANCESTORS?: string;
  };
  Variables: AppEnv["Variables"] & { session: PortalSession };
}
