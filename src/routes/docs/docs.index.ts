import { swaggerUI } from "@hono/swagger-ui";
import { Hono } from "hono";
import { version } from "swagger-ui-dist/package.json";
import css from "swagger-ui-dist/swagger-ui.css";
import bundle from "swagger-ui-dist/swagger-ui-bundle.js";
import type { AppEnv } from "../../app-env";

/**
 * The Swagger UI page at /docs, with its stylesheet and script served by the Worker itself
 * from the installed (pinned) swagger-ui-dist package: no CDN, so /docs works offline.
 * The asset URLs carry the package version, so browsers may cache them for good.
 */
export const SWAGGER_UI_VERSION = version;
const ASSETS_BASE = "/docs/assets";
const assetPath = (file: string) => `${ASSETS_BASE}/swagger-ui-dist@${SWAGGER_UI_VERSION}/${file}`;

const ASSETS: Record<string, { body: string; contentType: string }> = {
  [assetPath("swagger-ui.css")]: { body: css, contentType: "text/css; charset=utf-8" },
  [assetPath("swagger-ui-bundle.js")]: { body: bundle, contentType: "text/javascript; charset=utf-8" },
};

export const docsRoutes = new Hono<AppEnv>()
  // @hono/swagger-ui builds its asset URLs as `${baseUrl}/swagger-ui-dist@${version}/<file>`: the paths of ASSETS.
  .get("/docs", swaggerUI({ url: "/openapi.json", baseUrl: ASSETS_BASE, version: SWAGGER_UI_VERSION, title: "hr-intel-webhooks API" }))
  .get(`${ASSETS_BASE}/*`, (c, next) => {
    const asset = ASSETS[c.req.path];
    if (!asset) return next();
    return c.body(asset.body, 200, { "Content-Type": asset.contentType, "Cache-Control": "public, max-age=31536000, immutable" });
  });
