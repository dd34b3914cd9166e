import type { ContentfulStatusCode } from "hono/utils/http-status";

/** A portal request refused with a plain page (no session, read-only, wrong origin, a link already used). */
export class PortalRefusal extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly title: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}
