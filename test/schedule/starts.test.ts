// Day expansion: per-minute starts, peak attribution, time zones, and skipped @reboot entries.
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { cronEntries, expandStarts, planSlots, replaceRunCrons, validateCrontab, type DayStarts, type StartEntry } from '../../src/schedule/index.js';
import { prng, randomFleet } from './fleet.js';

const SLES = 'MAILTO=root\n-*/15 * * * * root test -x /usr/lib/cron/run-crons && /usr/lib/cron/run-crons >/dev/null 2>&1\n';
const DAY = new Date('2024-06-01T12:00:00Z');

function entriesOf(host: string, text: string): StartEntry[] {
  return validateCrontab(text, { systemFormat: true, file: '/etc/crontab' }).entries.map((e) => ({
    host,
    file: '/etc/crontab',
    line: e.line,
    schedule: e.schedule,
    command: e.command,
  }));
}

describe('expandStarts', () => {
  const fleet = randomFleet(prng(41), 500);

  it('shows the cron storm: every guest at every quarter hour, blamed on run-crons', () => {
    const day = expandStarts(fleet.flatMap((g) => entriesOf(g.host, SLES)), DAY);
    expect(day.counts).toHaveLength(1440);
    expect(day.peak).toBe(500);
    expect(day.peakMinutes).toHaveLength(96);
    expect(day.peakMinutes.slice(0, 3)).toEqual(['00:00', '00:15', '00:30']);
    expect(day.counts.reduce((a, b) => a + b, 0)).toBe(500 * 96);
    expect(day.causes).toHaveLength(1);
    expect(day.causes[0]!.command).toMatch(/run-crons/);
    expect(day.causes[0]!.hosts).toHaveLength(500);
    expect(day.causes[0]!.starts).toBe(500 * 96);
  });

  it('shows the staggered plan never starting more than the cap', () => {
    const plan = planSlots(fleet, { job: 'run-crons', window: '23:00-06:00', slotMinutes: 12, cap: 15 });
    const entries = plan.assignments.flatMap((a) =>
      entriesOf(a.host, replaceRunCrons(SLES, { slotCron: a.cron, scripts: ['daily'] }).text),
    );
    const day = expandStarts(entries, DAY);
    expect(day.peak).toBe(15);
    expect(day.counts.reduce((a, b) => a + b, 0)).toBe(500);
    const slot0 = plan.slots.find((s) => s.hosts.length === 15)!;
    expect(day.peakMinutes).toContain(slot0.start);
    const blamed = day.causes.flatMap((c) => c.hosts);
    expect(blamed).toEqual(expect.arrayContaining(slot0.hosts));
  });

  it('buckets by wall clock in the time zone across DST changes', () => {
    const entry = (schedule: string): StartEntry => ({ host: 'g', file: 'f', line: 1, schedule, command: 'x' });
    const spring = expandStarts([entry('*/30 * * * *'), entry('0 12 * * *')], new Date('2024-03-31T10:00:00Z'), 'Europe/Berlin');
    expect(spring.counts.reduce((a, b) => a + b, 0)).toBe(46 + 1);
    expect(spring.counts[2 * 60]).toBe(0);
    expect(spring.counts[12 * 60]).toBe(2);
    const autumn = expandStarts([entry('*/30 * * * *')], new Date('2024-10-27T10:00:00Z'), 'Europe/Berlin');
    expect(autumn.counts.reduce((a, b) => a + b, 0)).toBe(50);
    expect(autumn.counts[2 * 60]).toBe(2);
    // 12:00 UTC on 1 June is 08:00 in New York; the day expanded is New York's 1 June.
    const ny = expandStarts([entry('0 8 1 6 *')], DAY, 'America/New_York');
    expect(ny.peakMinutes).toEqual(['08:00']);
  });

  it('skips @reboot and names the file and line of a bad schedule', () => {
    const day = expandStarts([{ host: 'g', file: 'f', line: 3, schedule: '@reboot', command: 'x' }], DAY);
    expect(day.skipped).toHaveLength(1);
    expect(day.peak).toBe(0);
    expect(day.peakMinutes).toEqual([]);
    const bad = () => expandStarts([{ host: 'g7', file: '/etc/cron.d/x', line: 9, schedule: '0 25 * * *', command: 'x' }], DAY);
    expect(bad).toThrow(InputError);
    expect(bad).toThrow(/^\/etc\/cron.d\/x:9: g7: schedule "0 25 \* \* \*"/);
  });

  it('reads an entry under CRON_TZ in that zone, and counts it in the analysis zone', () => {
    const text = 'MAILTO=root\n0 9 * * * root morning\nCRON_TZ=America/New_York\n0 9 * * * root new-york-morning\nCRON_TZ=\n30 9 * * * root back\n';
    const { entries, problems } = cronEntries('g1', [{ path: '/etc/crontab', text }]);
    expect(problems).toEqual([]);
    expect(entries.map((e) => e.tz)).toEqual([undefined, 'America/New_York', undefined]);
    const startsOf = (day: DayStarts, minute: string) => day.counts[Number(minute.slice(0, 2)) * 60 + Number(minute.slice(3))];
    // June: New York is UTC-4, so its 09:00 is 13:00 UTC; January: UTC-5, 14:00 UTC.
    const june = expandStarts(entries, new Date('2024-06-01T12:00:00Z'), 'UTC');
    expect([startsOf(june, '09:00'), startsOf(june, '13:00'), startsOf(june, '09:30')]).toEqual([1, 1, 1]);
    const january = expandStarts(entries, new Date('2024-01-15T12:00:00Z'), 'UTC');
    expect([startsOf(january, '13:00'), startsOf(january, '14:00')]).toEqual([0, 1]);
    // Counted in Berlin's minutes (UTC+2 in June): 15:00.
    const berlin = expandStarts(entries, new Date('2024-06-01T12:00:00Z'), 'Europe/Berlin');
    expect(berlin.counts.flatMap((c, m) => (c ? [m] : []))).toEqual([9 * 60, 9 * 60 + 30, 15 * 60]);
  });
});
