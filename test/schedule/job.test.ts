// Jobs as the CLI describes them: validation, window and hashed plans, hourly spreading, change counts.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { dailyStart, jobPath, normalizeJob, planJob, planSlots, planSpan, type CronJob } from '../../src/schedule/index.js';
import { prng, randomFleet, shuffled } from './fleet.js';

const nightly = (over: Partial<CronJob> = {}): CronJob =>
  normalizeJob({
    job: 'nightly',
    timing: { kind: 'window', window: '23:00-06:00', slotMinutes: 12, cap: 15 },
    action: { kind: 'command', command: 'run-parts /etc/cron.daily' },
    ...over,
  });

describe('normalizeJob', () => {
  it('accepts an escaped %', () => {
    expect(nightly({ action: { kind: 'command', command: 'tar czf /b/$(date +\\%F).tgz /etc' } }).action).toMatchObject({ command: 'tar czf /b/$(date +\\%F).tgz /etc' });
  });

  it('fills in defaults', () => {
    expect(nightly()).toMatchObject({ place: 'crontab', user: 'root' });
    expect(jobPath(nightly())).toBe('/etc/crontab');
    expect(jobPath(nightly({ place: 'cron.d' }))).toBe('/etc/cron.d/fleet-nightly');
  });

  it.each([
    [{ job: 'bad name' }, /invalid job name/],
    [{ job: 'a.b', place: 'cron.d' as const }, /Debian's cron would ignore/],
    [{ user: 'root; rm' }, /invalid cron user/],
    [{ action: { kind: 'command' as const, command: 'a\nb' } }, /one line/],
    [{ action: { kind: 'command' as const, command: '  ' } }, /empty/],
    [{ action: { kind: 'command' as const, command: 'tar czf /b/$(date +%F).tgz /etc' } }, /write \\% \(e.g. date \+\\%F\)/],
    [{ action: { kind: 'run-crons' as const, scripts: ['daily' as const] }, place: 'cron.d' as const }, /cannot go to \/etc\/cron.d/],
    [{ timing: { kind: 'window' as const, window: '25:00-06:00', slotMinutes: 12, cap: 15 } }, /invalid window/],
    [{ timing: { kind: 'window' as const, window: '23:00-06:00', slotMinutes: 12, cap: 0 } }, /invalid cap/],
    [{ timing: { kind: 'hashed' as const, schedule: 'H H(5-1) * * *' } }, /wraps/],
    [{ timing: { kind: 'hashed' as const, schedule: 'H/15 * * * *' }, action: { kind: 'run-crons' as const, scripts: ['daily' as const] } }, /needs a daily schedule/],
  ])('rejects %o', (over, why) => {
    expect(() => nightly(over)).toThrow(why);
  });

  it('throws usage errors (exit 2) for the hashed spec it cannot expand', () => {
    expect(() => nightly({ timing: { kind: 'hashed', schedule: 'H H' } })).toThrow(/cron needs 5/);
    expect(() => nightly({ job: '' })).toThrow(UsageError);
  });
});

describe('planJob', () => {
  const fleet = randomFleet(prng(71), 300);

  it('is planSlots for a window, whatever the inventory order', () => {
    const plan = planJob(nightly(), fleet);
    const direct = planSlots(fleet, { job: 'nightly', window: '23:00-06:00', slotMinutes: 12, cap: 15 });
    expect(plan.guests.map((g) => [g.host, g.slot, g.start, g.cron])).toEqual(direct.assignments.map((a) => [a.host, a.slot, a.start, a.cron]));
    const again = planJob(nightly(), shuffled(prng(3), fleet));
    const byHost = new Map(again.guests.map((g) => [g.host, g.slot]));
    expect(plan.guests.every((g) => byHost.get(g.host) === g.slot)).toBe(true);
    expect(plan).toMatchObject({ known: 0, changed: 300 });
    expect(planSpan(plan)).toEqual({ first: '23:00', last: '05:48', lastEnds: '06:00' });
  });

  it('counts guests whose start changes against what they carry', () => {
    const plan = planJob(nightly(), fleet);
    const previous = new Map(plan.guests.slice(0, 250).map((g) => [g.host, { slot: g.slot!, cron: g.cron }]));
    const next = planJob(nightly(), fleet, { previous });
    expect(next).toMatchObject({ known: 250, changed: 50 });
    const hashedPrev = new Map([[fleet[0]!.host, { cron: '0 0 * * *' }]]);
    const hashed = planJob(nightly({ timing: { kind: 'hashed', schedule: 'H H(1-5) * * *' } }), fleet, { previous: hashedPrev });
    expect(hashed.changed).toBe(300);
    const same = new Map(hashed.guests.map((g) => [g.host, { cron: g.cron }]));
    expect(planJob(hashed.job, fleet, { previous: same }).changed).toBe(0);
  });

  it('expands hashed schedules per guest, with a start for daily ones', () => {
    const plan = planJob(nightly({ timing: { kind: 'hashed', schedule: 'H H(1-5) * * *' } }), fleet);
    for (const g of plan.guests) {
      expect(g.slot).toBeNull();
      expect(g.start).toBe(dailyStart(g.cron));
      expect(g.start! >= '01:00' && g.start! <= '05:59').toBe(true);
    }
    expect(planSpan(plan)).toBeUndefined();
    const quarter = planJob(nightly({ timing: { kind: 'hashed', schedule: 'H/15 * * * *' } }), fleet);
    expect(quarter.guests.every((g) => g.start === null && /^\d+-59\/15 \* \* \* \*$/.test(g.cron))).toBe(true);
  });

  it('spreads hourly scripts over the hour under their own cap when run-crons is replaced', () => {
    const job = nightly({ job: 'run-crons', action: { kind: 'run-crons', scripts: ['hourly', 'daily'] } });
    const plan = planJob(job, fleet);
    const perMinute = new Map<number, number>();
    for (const g of plan.guests) perMinute.set(g.hourlyMinute!, (perMinute.get(g.hourlyMinute!) ?? 0) + 1);
    expect(Math.max(...perMinute.values())).toBeLessThanOrEqual(Math.ceil(300 / 60) + 1);
    expect(planJob(nightly({ job: 'run-crons', action: { kind: 'run-crons', scripts: ['daily'] } }), fleet).guests[0]!.hourlyMinute).toBeUndefined();
  });

  it('says what would fit when the fleet does not', () => {
    expect(() => planJob(nightly({ timing: { kind: 'window', window: '23:00-00:00', slotMinutes: 12, cap: 15 } }), fleet)).toThrow(
      /300 guests do not fit: 5 slots of 12 min in 23:00-00:00 × cap 15 = 75/,
    );
  });
});
