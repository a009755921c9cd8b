// The cron load as one self-contained SVG for `fleet cron analyze|simulate --svg`: guests starting a
// job per minute (top) and the host's eligible queue (bottom) over 24 hours of wall clock, one line
// per run (before/after a plan), the cap as a dashed line: the shape of the field's queue-over-the-day
// figure. A pure function from numbers to text; the commands write it.
import { clock } from './cron-render.js';

export interface LoadRun {
  /** "before (current crontabs)", "after (plan run-crons)". */
  name: string;
  /** Guests starting a job in each minute (index 0 = `from`). */
  starts: readonly number[];
  /** Largest eligible queue in each minute. */
  queue: readonly number[];
}

export interface LoadPicture {
  title: string;
  /** One line under the title: the host model, the fleet size. */
  subtitle?: string;
  /** Minute of day the 24 hours begin at. */
  from: number;
  /** Time zone the wall clock is in, for the time axis label. */
  tz: string;
  runs: readonly LoadRun[];
  /** Most guests starting in one slot, drawn on the starts panel. */
  cap?: number;
}

/** How a panel maps values to height: linear, or log10(1 + v) so a small "after" stays visible. */
export type Scale = 'linear' | 'log';

const COLORS = ['#c0392b', '#1f6fb4', '#27ae60', '#8e44ad'];
const W = 1000;
const LEFT = 70;
const RIGHT = 24;
const PANEL_H = 190;
const PW = W - LEFT - RIGHT;

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
const f2 = (n: number) => String(Math.round(n * 100) / 100);
const peakOf = (values: readonly number[]) => values.reduce((a, b) => Math.max(a, b), 0);

/**
 * Log when the largest line is more than 10 times the smallest one that is not flat at zero (the cap
 * counts as a line): 300 starts a minute before and 10 after would otherwise leave "after" a sliver.
 */
export function chooseScale(peaks: readonly number[]): Scale {
  const lit = peaks.filter((p) => p > 0);
  return lit.length >= 2 && Math.max(...lit) > 10 * Math.min(...lit) ? 'log' : 'linear';
}

/** Height units of a value on the scale (the panel's data-y-per-unit converts them to pixels). */
export function scaled(v: number, scale: Scale): number {
  return scale === 'log' ? Math.log10(1 + v) : v;
}

export function loadSvg(p: LoadPicture): string {
  const top = p.subtitle ? 78 : 60;
  const legendTop = top + 2 * (PANEL_H + 46) + 16;
  const H = legendTop + p.runs.length * 18 + 10;
  const out: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(p.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16">${esc(p.title)}</text>`,
  ];
  if (p.subtitle) out.push(`<text x="${W / 2}" y="44" text-anchor="middle" fill="#555">${esc(p.subtitle)}</text>`);
  out.push(
    ...panel({
      id: 'starts', top, heading: 'guests starting a job, per minute', yLabel: 'guests / min',
      lines: p.runs.map((r) => r.starts), from: p.from, tz: p.tz, cap: p.cap,
    }),
    ...panel({
      id: 'queue', top: top + PANEL_H + 46, heading: 'eligible queue: guests runnable but not dispatched by the host', yLabel: 'guests waiting',
      lines: p.runs.map((r) => r.queue), from: p.from, tz: p.tz,
    }),
  );
  p.runs.forEach((r, i) => {
    const y = legendTop + i * 18;
    out.push(
      `<line x1="${LEFT}" y1="${y - 4}" x2="${LEFT + 24}" y2="${y - 4}" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"/>`,
      `<text x="${LEFT + 30}" y="${y}">${esc(`${r.name}: peak ${peakOf(r.starts)} starts in one minute, peak queue ${peakOf(r.queue)}`)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

interface Panel {
  id: string;
  top: number;
  heading: string;
  yLabel: string;
  lines: ReadonlyArray<readonly number[]>;
  from: number;
  tz: string;
  cap?: number;
}

function panel(o: Panel): string[] {
  const peaks = o.lines.map(peakOf);
  const scale = chooseScale(o.cap === undefined ? peaks : [...peaks, o.cap]);
  const maxValue = Math.max(1, o.cap ?? 0, ...peaks);
  const ticks = scale === 'log' ? logTicks(maxValue) : linearTicks(maxValue);
  const yMax = scaled(ticks.at(-1)!, scale);
  const bottom = o.top + PANEL_H;
  const perUnit = PANEL_H / yMax;
  const perMinute = PW / 1440;
  const x = (m: number) => LEFT + m * perMinute;
  const y = (v: number) => bottom - scaled(v, scale) * perUnit;
  // The mapping is written on the group so a reader (or a test) can turn points back into numbers.
  const out = [
    `<g id="${o.id}" data-scale="${scale}" data-x0="${LEFT}" data-x-per-minute="${perMinute}" data-y0="${bottom}" data-y-per-unit="${perUnit}">`,
    `<text x="${LEFT}" y="${o.top - 8}" font-size="13" font-weight="bold">${esc(o.heading)}${scale === 'log' ? ' (log scale)' : ''}</text>`,
  ];
  for (const t of ticks) {
    out.push(
      `<line x1="${LEFT}" y1="${f2(y(t))}" x2="${W - RIGHT}" y2="${f2(y(t))}" stroke="#e3e3e3"/>`,
      `<text x="${LEFT - 6}" y="${f2(y(t) + 4)}" text-anchor="end">${t}</text>`,
    );
  }
  // Ticks every two hours of wall clock, wherever the 24 hours start.
  for (let m = (120 - (o.from % 120)) % 120; m <= 1440; m += 120) {
    out.push(
      `<line x1="${f2(x(m))}" y1="${bottom}" x2="${f2(x(m))}" y2="${bottom + 5}" stroke="#333"/>`,
      `<text x="${f2(x(m))}" y="${bottom + 18}" text-anchor="middle">${clock(o.from + m)}</text>`,
    );
  }
  const mid = o.top + PANEL_H / 2;
  out.push(
    `<text x="${W - RIGHT}" y="${bottom + 34}" text-anchor="end" fill="#555">time of day (${esc(o.tz)})</text>`,
    `<text x="18" y="${mid}" transform="rotate(-90 18 ${mid})" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  o.lines.forEach((values, i) => {
    const color = COLORS[i % COLORS.length]!;
    out.push(`<polyline data-run="${i}" fill="${color}" fill-opacity="0.12" stroke="${color}" stroke-width="1.3" points="${stepPoints(values, x, y)}"/>`);
  });
  if (o.cap !== undefined) {
    out.push(
      `<line x1="${LEFT}" y1="${f2(y(o.cap))}" x2="${W - RIGHT}" y2="${f2(y(o.cap))}" stroke="#222" stroke-width="1.2" stroke-dasharray="7 4"/>`,
      `<text x="${W - RIGHT - 4}" y="${f2(y(o.cap) - 5)}" text-anchor="end" fill="#222">cap ${o.cap} per slot</text>`,
    );
  }
  out.push(
    `<line x1="${LEFT}" y1="${bottom}" x2="${W - RIGHT}" y2="${bottom}" stroke="#333"/>`,
    `<line x1="${LEFT}" y1="${o.top}" x2="${LEFT}" y2="${bottom}" stroke="#333"/>`,
    '</g>',
  );
  return out;
}

/** A step line over the 24 hours, closed to the baseline: each minute's value is held for the minute. */
function stepPoints(values: readonly number[], x: (m: number) => number, y: (v: number) => number): string {
  const day = values.slice(0, 1440);
  const pts = [`${f2(x(0))},${f2(y(0))}`];
  let last = 0;
  day.forEach((v, m) => {
    if (v !== last) pts.push(`${f2(x(m))},${f2(y(last))}`, `${f2(x(m))},${f2(y(v))}`);
    last = v;
  });
  pts.push(`${f2(x(day.length))},${f2(y(last))}`, `${f2(x(day.length))},${f2(y(0))}`);
  return pts.join(' ');
}

function linearTicks(max: number): number[] {
  const p = 10 ** Math.floor(Math.log10(max));
  const top = [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((k) => k * p).find((v) => v >= max) ?? 10 * p;
  const step = top / 4;
  return [0, 1, 2, 3, 4].map((k) => Math.round(k * step * 100) / 100);
}

function logTicks(max: number): number[] {
  const ticks = [0];
  for (let decade = 1; ; decade *= 10) {
    for (const k of [1, 3]) {
      ticks.push(k * decade);
      if (k * decade >= max) return ticks;
    }
  }
}
