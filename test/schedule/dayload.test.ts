// A day of starts through the host model: what each start costs, the field's figures, before and after.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LOAD_MODEL, guestEdits, normalizeJob, planJob, simulateDay, simulateHost, startCost, validateCrontab, type StartEntry,
} from '../../src/schedule/index.js';
import { prng, randomFleet } from './fleet.js';

const SLES = 'MAILTO=root\n-*/15 * * * * root test -x /usr/lib/cron/run-crons && /usr/lib/cron/run-crons >/dev/null 2>&1\n';
const DAY = new Date('2026-11-25T12:00:00Z');

function entriesOf(host: string, text: string): StartEntry[] {
  return validateCrontab(text, { systemFormat: true }).entries.map((e) => ({ host, file: '/etc/crontab', line: e.line, schedule: e.schedule, command: e.command }));
}

describe('startCost', () => {
  const m = DEFAULT_LOAD_MODEL;
  it('charges run-crons the daily scripts once a day and a moment otherwise', () => {
    expect(startCost({ command: '/usr/lib/cron/run-crons' }, m.dailyAt, m)).toBe(3);
    expect(startCost({ command: '/usr/lib/cron/run-crons' }, 15, m)).toBeCloseTo(0.1 / 60);
    expect(startCost({ command: 'run-parts /etc/cron.hourly' }, 15, m)).toBeCloseTo(0.1 / 60);
    expect(startCost({ command: 'run-parts /etc/cron.daily; test $(date +\\%u) -eq 7 && run-parts /etc/cron.weekly' }, 15, m)).toBe(3);
    expect(startCost({ command: '/usr/local/bin/backup' }, 15, { ...m, jobMinutes: 7 })).toBe(7);
  });
});

describe('simulateDay', () => {
  const fleet = randomFleet(prng(77), 500);

  it('shows the field: 500 clones, run-crons every 15 minutes, ~1.5 minutes unresponsive each time', () => {
    const entries = fleet.flatMap((g) => entriesOf(g.host, SLES));
    // With the daily scripts elsewhere (e.g. already done), each quarter hour is a short total outage.
    const quiet = simulateDay(entries, { day: DAY, model: { dailyAt: 1439 } });
    expect(quiet.peak).toBe(500);
    expect(quiet.sim.peakQueue).toBe(459);
    expect(quiet.sim.unresponsiveMinutes / 96).toBeGreaterThan(1.2);
    expect(quiet.sim.unresponsiveMinutes / 96).toBeLessThan(1.8);
    expect(quiet.sim.queueSeries).toHaveLength(1440);
  });

  it('lets the quarter-hour runs through while the daily jobs of all clones grind (short work first)', () => {
    const entries = fleet.slice(0, 300).flatMap((g) => entriesOf(g.host, SLES));
    const r = simulateDay(entries, { day: DAY });
    // 300 daily jobs at 00:00 alone: the model's meltdown, ~15.6 hours.
    const alone = simulateHost([300]);
    expect(r.sim.lastEnd).toBeGreaterThan(alone.lastEnd);
    expect(r.sim.lastEnd).toBeLessThan(alone.lastEnd * 2);
    // Never more waiting than one quarter hour's runs on top of the daily backlog.
    expect(r.sim.peakQueue).toBeLessThan(300 + 300);
  });

  it('the staggered plan: blocks of 15, no queue, done by the end of the window', () => {
    const job = normalizeJob({ job: 'run-crons', timing: { kind: 'window', window: '23:00-06:00', slotMinutes: 12, cap: 15 }, action: { kind: 'run-crons', scripts: ['daily', 'weekly', 'monthly'] } });
    const plan = planJob(job, fleet);
    const entries = plan.guests.flatMap((g) => {
      const after = guestEdits(job, new Map([['/etc/crontab', SLES]]), g).edits[0]!.after;
      return entriesOf(g.host, after);
    });
    const r = simulateDay(entries, { day: DAY });
    expect(r.peak).toBeLessThanOrEqual(15);
    expect(r.sim.peakQueue).toBe(0);
    expect(r.sim.unresponsiveMinutes).toBe(0);
    expect(r.sim.longestJob).toBeCloseTo(3);
    // Cut at midnight, the night's blocks split in two; from noon they are one run ending by 06:00.
    const night = simulateDay(entries, { day: DAY, from: 12 * 60 });
    expect(night.counts.reduce((a, b) => a + b, 0)).toBe(500);
    expect(12 * 60 + night.sim.lastEnd).toBeLessThanOrEqual(24 * 60 + 6 * 60);
    expect(12 * 60 + night.sim.lastEnd).toBeGreaterThan(24 * 60 + 5 * 60 + 48);
    expect(night.peakMinutes.every((t) => t >= '23:00' || t < '06:00')).toBe(true);
  });

  it('rejects a nonsensical model', () => {
    expect(() => simulateDay([], { day: DAY, model: { dailyAt: 1440 } })).toThrow(/daily-at/);
    expect(() => simulateDay([], { day: DAY, model: { idleSeconds: -1 } })).toThrow(/idle seconds/);
    expect(() => simulateDay([], { day: DAY, from: 1440 })).toThrow(/start minute/);
  });
});

describe('simulateHost dispatch', () => {
  it('dispatches short work ahead of long work, and equal work first come first served', () => {
    const r = simulateHost([{ time: 0, durationMin: 10 }, { time: 1, durationMin: 1 }], { capacity: 1, thrash: 0 });
    // The short job arrives at 1 and runs at once: the long one finishes at 11, the short at 2.
    expect(r.lastEnd).toBe(11);
    expect(r.longestJob).toBe(11);
    const fifo = simulateHost([{ time: 0, durationMin: 2 }, { time: 0, durationMin: 2 }], { capacity: 1, thrash: 0 });
    expect(fifo.lastEnd).toBe(4);
  });
});
