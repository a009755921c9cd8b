// Reads a cron load SVG back into numbers: checks it is well-formed XML, then turns each panel's
// step lines into per-minute values through the mapping written on the panel.
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export interface PanelData {
  scale: string;
  /** One array of 1440 values per run, in run order. */
  lines: number[][];
  texts: string[];
}

export function readLoadSvg(svg: string): Record<string, PanelData> {
  const valid = XMLValidator.validate(svg);
  if (valid !== true) throw new Error(`not well-formed XML: ${JSON.stringify(valid.err)}`);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['g', 'polyline', 'text', 'line'].includes(name) }).parse(svg);
  const panels: Record<string, PanelData> = {};
  for (const g of doc.svg.g ?? []) {
    const x0 = Number(g['data-x0']);
    const perMinute = Number(g['data-x-per-minute']);
    const y0 = Number(g['data-y0']);
    const perUnit = Number(g['data-y-per-unit']);
    const scale = g['data-scale'];
    const value = (y: number) => {
      const u = (y0 - y) / perUnit;
      return Math.round(scale === 'log' ? 10 ** u - 1 : u);
    };
    const lines = (g.polyline ?? []).map((pl: Record<string, string>) => {
      const pts = pl.points!.split(' ').map((p) => p.split(',').map(Number) as [number, number]);
      // Horizontal segments hold a value from one x to the next; each minute's middle falls in one.
      const segments: Array<{ a: number; b: number; v: number }> = [];
      for (let i = 1; i < pts.length; i++) {
        const [xa, ya] = pts[i - 1]!;
        const [xb, yb] = pts[i]!;
        if (ya === yb && xb > xa) segments.push({ a: xa, b: xb, v: value(ya) });
      }
      return Array.from({ length: 1440 }, (_, m) => {
        const mid = x0 + (m + 0.5) * perMinute;
        const seg = segments.find((s) => s.a <= mid && mid < s.b);
        if (!seg) throw new Error(`no segment covers minute ${m}`);
        return seg.v;
      });
    });
    const texts = (g.text ?? []).map((t: unknown) => (typeof t === 'object' ? String((t as Record<string, unknown>)['#text']) : String(t)));
    panels[g.id] = { scale, lines, texts };
  }
  return panels;
}
