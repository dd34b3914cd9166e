// The two Swagger UI files /docs serves, imported as text (wrangler.toml [[rules]] type = "Text").
declare module "swagger-ui-dist/swagger-ui.css" {
  const css: string;
  export default css;
}
declare module "swagger-ui-dist/swagger-ui-bundle.js" {
  const bundle: string;
  export default bundle;
}
