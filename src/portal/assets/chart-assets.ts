import script from "uplot/dist/uPlot.iife.min.js";
import css from "uplot/dist/uPlot.min.css";
import { version } from "uplot/package.json";

/**
 * uPlot (the pinned npm package), served by the Worker for the endpoint page's chart: no CDN.
 * The URLs carry the version, so browsers may keep them for good.
 */
export const CHART_ASSETS = {
  css: { path: `/portal/assets/uplot@${version}/uPlot.min.css`, body: css, contentType: "text/css; charset=utf-8" },
  script: { path: `/portal/assets/uplot@${version}/uPlot.iife.min.js`, body: script, contentType: "text/javascript; charset=utf-8" },
};
