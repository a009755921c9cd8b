// Window geometry: parsing, wrap over midnight, slot starts and reverse lookup.
import { describe, expect, it } from 'vitest';
import { formatClock, parseClock, slotAt, slotCron, slotGeometry } from '../../src/schedule/index.js';

describe('slot geometry', () => {
  it('wraps midnight and drops a partial last slot', () => {
    const geo = slotGeometry('23:00-06:05', 12);
    expect(geo).toMatchObject({ start: 1380, length: 425, count: 35 });
    expect(slotCron(geo, 0)).toBe('0 23 * * *');
    expect(slotCron(geo, 5)).toBe('0 0 * * *');
    expect(slotCron(geo, 34)).toBe('48 5 * * *');
  });

  it('finds the slot a start time belongs to, only on slot boundaries', () => {
    const geo = slotGeometry('23:00-06:00', 12);
    expect(slotAt(geo, '23:36')).toBe(3);
    expect(slotAt(geo, '00:12')).toBe(6);
    expect(slotAt(geo, '23:37')).toBeUndefined();
    expect(slotAt(geo, '06:00')).toBeUndefined();
    expect(slotAt(geo, '12:00')).toBeUndefined();
  });

  it('reads and writes clock times strictly', () => {
    expect(parseClock('7:05')).toBe(425);
    expect(parseClock('24:00')).toBeUndefined();
    expect(parseClock('12:60')).toBeUndefined();
    expect(formatClock(1440 + 65)).toBe('01:05');
  });
});
