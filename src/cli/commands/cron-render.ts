// Pictures of cron load for `fleet cron` on a terminal: slot tables, per-hour bars, a sparkline (the
// SVG is cron-svg.ts). Pure functions from numbers to text; the commands print them.
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
