// Pictures of cron load: tables, sparklines, the per-hour chart and the SVG (well-formed, escaped, scaled).
import { describe, expect, it } from 'vitest';
import {
  clockFromMidnight, foldedCell, hourChart, hourlyPeaks, listTimes, sparkline, table, topMinutes,
} from '../../src/cli/commands/cron-render.js';

const storm = Array.from({ length: 1440 }, (_, m) => (m % 15 === 0 ? 300 : 0));

describe('terminal pictures', () => {
  it('aligns tables, right-aligned but for the last column', () => {
    expect(table(['start', 'guests', 'hosts'], [['23:00', '9', 'g[1-9]'], ['23:12', '15', 'g[10-24]']])).toBe(
      'start  guests  hosts\n23:00       9  g[1-9]\n23:12      15  g[10-24]\n',
    );
  });

  it('draws sparklines scaled to the largest value', () => {
    expect(sparkline([0, 1, 2, 4, 8])).toBe(' ▁▂▄█');
    expect(sparkline([0, 0])).toBe('  ');
    expect(sparkline([1], 100)).toBe('▁');
  });

  it('charts the peak per hour and marks hours over the cap', () => {
    expect(hourlyPeaks(storm)).toEqual(new Array(24).fill(300));
    const calm = new Array(1440).fill(0);
    calm[23 * 60] = 15;
    calm[23 * 60 + 12] = 14;
    calm[5] = 20;
    const text = hourChart(calm, 20, 15);
    expect(text.split('\n')[0]).toBe(' hour  peak/min  starts');
    expect(text).toMatch(/^00:00\s+20\s+20\s+█{20} {2}over cap$/m);
    expect(text).toMatch(/^23:00\s+15\s+29\s+█{15}$/m);
    expect(text).toMatch(/^12:00\s+0\s+0$/m);
  });

  it('lists the busiest minutes, times and folded hosts compactly', () => {
    expect(topMinutes(storm, 3)).toEqual([{ minute: 0, starts: 300 }, { minute: 15, starts: 300 }, { minute: 30, starts: 300 }]);
    expect(listTimes(['00:00', '00:15', '00:30'], 2)).toBe('00:00, 00:15 (+1 more)');
    expect(foldedCell(['g1', 'g2', 'g3'])).toBe('g[1-3]');
    expect(foldedCell(Array.from({ length: 50 }, (_, i) => `guest${String(2 * i).padStart(3, '0')}`), 20)).toHaveLength(20);
    expect(clockFromMidnight(351)).toBe('05:51');
    expect(clockFromMidnight(1440 + 937)).toBe('15:37 next day');
    expect(clockFromMidnight(3 * 1440)).toBe('00:00 +3 days');
  });
});
