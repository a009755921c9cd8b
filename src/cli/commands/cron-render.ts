// Pictures of cron load for `fleet cron`: slot tables, per-hour bars, a sparkline and a hand-written
// SVG chart. Pure functions from numbers to text; the commands print them.
import { foldHosts } from '../../inventory/index.js';

const BLOCKS = ' ▁▂▃▄▅▆▇█';

/** Right-aligned table with a header row; columns separated by two spaces, the last left-aligned. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

/** One character per value, scaled to the largest (or `max`). */
export function sparkline(values: readonly number[], max = Math.max(0, ...values)): string {
  return values
    .map((v) => (v <= 0 || max <= 0 ? BLOCKS[0] : BLOCKS[Math.max(1, Math.round((v / max) * (BLOCKS.length - 1)))]))
    .join('');
}

/** Peak starts per minute within each hour of the day. */
export function hourlyPeaks(counts: readonly number[]): number[] {
  return Array.from({ length: 24 }, (_, h) => Math.max(0, ...counts.slice(h * 60, h * 60 + 60)));
}

export function clock(minute: number): string {
  const m = ((minute % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

/** "05:51", or "15:37 next day" / "+2 days" for times past midnight of the day simulated. */
export function clockFromMidnight(minutes: number): string {
  const day = Math.floor(minutes / 1440);
  return `${clock(Math.floor(minutes))}${day === 0 ? '' : day === 1 ? ' next day' : ` +${day} days`}`;
}

/** Per-hour bar chart: hour, peak starts in a minute, starts in the hour, bar scaled to the day's peak. */
export function hourChart(counts: readonly number[], width = 40, cap?: number): string {
  const peaks = hourlyPeaks(counts);
  const max = Math.max(1, ...peaks);
  const rows = peaks.map((p, h) => {
    const total = counts.slice(h * 60, h * 60 + 60).reduce((a, b) => a + b, 0);
    const bar = '█'.repeat(Math.round((p / max) * width)) || (p > 0 ? '▏' : '');
    const over = cap !== undefined && p > cap ? '  over cap' : '';
    return [`${String(h).padStart(2, '0')}:00`, String(p), String(total), bar + over];
  });
  return table(['hour', 'peak/min', 'starts', ''], rows);
}

/** The `n` busiest minutes (ties in time order), with the count. */
export function topMinutes(counts: readonly number[], n: number): Array<{ minute: number; starts: number }> {
  return counts
    .map((starts, minute) => ({ minute, starts }))
    .filter((x) => x.starts > 0)
    .sort((a, b) => b.starts - a.starts || a.minute - b.minute)
    .slice(0, n);
}

/** "00:00, 00:15, 00:30 (+93 more)" */
export function listTimes(times: readonly string[], show = 6): string {
  return times.length <= show ? times.join(', ') : `${times.slice(0, show).join(', ')} (+${times.length - show} more)`;
}

/** A host list folded into ranges, cut to `max` characters for one table cell. */
export function foldedCell(hosts: readonly string[], max = 90): string {
  const text = foldHosts(hosts);
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

export interface Series {
  name: string;
  values: readonly number[];
  color: string;
}

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

/** A step chart of per-minute series over 24 hours (from `startMinute`, default midnight), as a standalone SVG. */
export function svgChart(opts: { title: string; series: readonly Series[]; yLabel: string; cap?: number; startMinute?: number }): string {
  const start = opts.startMinute ?? 0;
  const W = 1200;
  // Legend entries flow left to right and wrap; about 7 px per character at this font size.
  const legend: Array<{ x: number; row: number; text: string; color: string }> = [];
  let lx = 70;
  let row = 0;
  for (const s of opts.series) {
    const text = `■ ${s.name} (peak ${Math.max(0, ...s.values)})`;
    const width = text.length * 7 + 24;
    if (lx > 70 && lx + width > W - 20) {
      lx = 70;
      row++;
    }
    legend.push({ x: lx, row, text, color: s.color });
    lx += width;
  }
  const H = 360 + row * 18;
  const left = 60;
  const right = 20;
  const top = 40;
  const bottom = 50 + row * 18;
  const pw = W - left - right;
  const ph = H - top - bottom;
  const peak = Math.max(1, opts.cap ?? 0, ...opts.series.flatMap((s) => s.values));
  const yMax = niceCeil(peak);
  const x = (minute: number) => left + (minute / 1440) * pw;
  const y = (v: number) => top + ph - (v / yMax) * ph;
  const f = (n: number) => n.toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(opts.title)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    out.push(
      `<line x1="${left}" y1="${f(y(v))}" x2="${W - right}" y2="${f(y(v))}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${f(y(v) + 4)}" text-anchor="end">${Number.isInteger(v) ? v : v.toFixed(1)}</text>`,
    );
  }
  // Ticks every two hours of wall clock, wherever the chart starts.
  for (let m = (120 - (start % 120)) % 120; m <= 1440; m += 120) {
    out.push(
      `<line x1="${f(x(m))}" y1="${top + ph}" x2="${f(x(m))}" y2="${top + ph + 5}" stroke="#333"/>`,
      `<text x="${f(x(m))}" y="${top + ph + 18}" text-anchor="middle">${clock(start + m)}</text>`,
    );
  }
  out.push(
    `<line x1="${left}" y1="${top + ph}" x2="${W - right}" y2="${top + ph}" stroke="#333"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + ph}" stroke="#333"/>`,
    `<text x="16" y="${top + ph / 2}" transform="rotate(-90 16 ${top + ph / 2})" text-anchor="middle">${esc(opts.yLabel)}</text>`,
  );
  if (opts.cap !== undefined) {
    out.push(
      `<line x1="${left}" y1="${f(y(opts.cap))}" x2="${W - right}" y2="${f(y(opts.cap))}" stroke="#c00" stroke-dasharray="6 4"/>`,
      `<text x="${W - right - 4}" y="${f(y(opts.cap) - 4)}" text-anchor="end" fill="#c00">cap ${opts.cap}</text>`,
    );
  }
  opts.series.forEach((s) => {
    // A step line: each minute's value is held until the next minute.
    const values = s.values.slice(0, 1440);
    const pts: string[] = [`${f(x(0))},${f(y(0))}`];
    let last = 0;
    values.forEach((v, m) => {
      if (v !== last) pts.push(`${f(x(m))},${f(y(last))}`, `${f(x(m))},${f(y(v))}`);
      last = v;
    });
    pts.push(`${f(x(values.length))},${f(y(last))}`, `${f(x(values.length))},${f(y(0))}`);
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.2" points="${pts.join(' ')}"/>`);
  });
  for (const l of legend) out.push(`<text x="${l.x}" y="${top + ph + 40 + l.row * 18}" fill="${l.color}">${esc(l.text)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
