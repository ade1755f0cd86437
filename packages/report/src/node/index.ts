export { type WrittenReport, writeReport } from "./write-report.js";
export { renderSvg } from "./render.js";
export { escapeHtml, type RenderedChart, reportHtml } from "./html.js";
