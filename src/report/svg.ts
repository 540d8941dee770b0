import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

/** One figure of the report: a Vega-Lite spec and the words around it. */
export interface Chart {
  id: string;
  title: string;
  /** What the figure shows and how to read it (plain text). */
  caption: string;
  spec: TopLevelSpec;
}

/** Shared look: one font stack available offline everywhere, no web fonts. */
export const chartConfig = {
  font: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 260 },
  header: { labelFontSize: 12, titleFontSize: 12 },
  line: { strokeWidth: 2 },
  point: { size: 40, filled: true },
} as const;

/**
 * Renders a Vega-Lite spec to an SVG string in Node: Vega-Lite compiles to Vega, and Vega's
 * headless view (`renderer: 'none'`) serialises the scenegraph. No canvas is needed; text
 * widths are estimated. The namespace attributes are dropped since the SVG is inlined in HTML,
 * where they are implied (and they are the only URLs such a file would otherwise hold).
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = vl.compile({ ...spec, config: { ...chartConfig, ...(spec.config ?? {}) } } as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return svg.replace(/ xmlns(:xlink)?="[^"]*"/g, '');
  } finally {
    view.finalize();
  }
}
