import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/**
 * Vega-Lite → Vega → SVG text, headless (renderer "none": no DOM or canvas; text widths are
 * estimated). Element ids are prefixed with `idPrefix` so several SVGs can be inlined in one page
 * without their clip paths and gradients colliding.
 */
export async function renderSvg(spec: TopLevelSpec, idPrefix: string): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return prefixIds(await view.toSVG(), idPrefix);
  } finally {
    view.finalize();
  }
}

function prefixIds(svg: string, prefix: string): string {
  return svg
    .replace(/\bid="([^"]+)"/g, (_, id: string) => `id="${prefix}-${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${prefix}-${id})`)
    .replace(/href="#([^"]+)"/g, (_, id: string) => `href="#${prefix}-${id}"`);
}
