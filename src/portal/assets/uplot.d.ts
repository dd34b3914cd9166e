// uPlot's browser build and stylesheet, imported as text (wrangler.toml [[rules]] type = "Text").
declare module "uplot/dist/uPlot.iife.min.js" {
  const script: string;
  export default script;
}
declare module "uplot/dist/uPlot.min.css" {
  const css: string;
  export default css;
}
