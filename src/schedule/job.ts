// A fleet cron job as `fleet cron plan|apply|simulate` describe it, normalised once, and its plan:
// one start per guest, either a capped slot in a window (planSlots) or an uncapped hashed schedule.
import { UsageError } from '../core/errors.js';
import { expandHashed, seedKeyFor } from './hashed.js';
import { planSlots, type Guest, type Plan } from './plan.js';
import type { Period } from './runcrons.js';
import { formatClock, slotGeometry, type SlotGeometry } from './window.js';

export type JobTiming =
  | { kind: 'window'; window: string; slotMinutes: number; cap: number }
  | { kind: 'hashed'; schedule: string };

export type JobAction = { kind: 'command'; command: string } | { kind: 'run-crons'; scripts: Period[] };

export interface CronJob {
  job: string;
  timing: JobTiming;
  action: JobAction;
  /** Where the block lives: in /etc/crontab, or as its own file /etc/cron.d/fleet-<job>. */
  place: 'crontab' | 'cron.d';
  /** The user the entries run as. */
  user: string;
}

/** What a guest carries now for this job (read back from its managed block). */
export interface PreviousJob {
  slot?: number;
  /** The schedule of the block's first entry. */
  cron?: string;
}

export interface GuestSlot {
  host: string;
  address: string;
  /** Slot index in the window; null for a hashed schedule. */
  slot: number | null;
  /** "HH:MM" when the guest starts once a day at a fixed time, else null. */
  start: string | null;
  /** The five cron time fields. */
  cron: string;
  /** For --replace-run-crons with hourly scripts: the minute past each hour. */
  hourlyMinute?: number;
}

export interface JobPlan {
  job: CronJob;
  guests: GuestSlot[];
  /** The slot plan (window timing only). */
  slots?: Plan;
  geometry?: SlotGeometry;
  /** Guests carrying this job's block now. */
  known: number;
  /** Guests whose start differs from what they carry (newcomers count). */
  changed: number;
}

const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Validates the combination of options once; everything after trusts the CronJob. */
export function normalizeJob(input: {
  job: string;
  timing: JobTiming;
  action: JobAction;
  place?: 'crontab' | 'cron.d';
  user?: string;
}): CronJob {
  const job: CronJob = { place: 'crontab', user: 'root', ...input };
  if (!JOB_NAME.test(job.job)) throw new UsageError(`invalid job name "${job.job}": use letters, digits, '.', '_' and '-'`);
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(job.user)) throw new UsageError(`invalid cron user "${job.user}"`);
  if (job.place === 'cron.d' && job.job.includes('.')) {
    // Debian's cron silently skips /etc/cron.d files whose names contain a dot.
    throw new UsageError(`job name "${job.job}" contains a dot: Debian's cron would ignore /etc/cron.d/fleet-${job.job}`);
  }
  if (job.action.kind === 'run-crons' && job.place === 'cron.d') {
    throw new UsageError('--replace-run-crons edits /etc/crontab, where run-crons is; it cannot go to /etc/cron.d');
  }
  if (job.action.kind === 'command' && /[\n\r]/.test(job.action.command)) {
    throw new UsageError('the cron command must be one line');
  }
  if (job.action.kind === 'command' && job.action.command.trim() === '') throw new UsageError('the cron command is empty');
  if (job.action.kind === 'command' && /(^|[^\\])%/.test(job.action.command)) {
    // cron turns an unescaped % into a newline and feeds the rest to the command's stdin.
    throw new UsageError(`the cron command contains %, which cron turns into a newline: write \\% (e.g. date +\\%F)`);
  }
  if (job.timing.kind === 'window') {
    slotGeometry(job.timing.window, job.timing.slotMinutes);
    if (!Number.isInteger(job.timing.cap) || job.timing.cap < 1) {
      throw new UsageError(`invalid cap ${job.timing.cap}: expected a whole number of guests, at least 1`);
    }
  } else {
    // Expanding once for any key checks the spec; per-guest expansion cannot fail differently.
    const sample = expandHashed(job.timing.schedule, seedKeyFor('0.0.0.0', job.job));
    if (job.action.kind === 'run-crons' && dailyStart(sample) === null) {
      throw new UsageError(`--replace-run-crons needs a daily schedule such as "H H(1-5) * * *", not "${job.timing.schedule}"`);
    }
  }
  return job;
}

/** The file that holds the job's block. */
export function jobPath(job: Pick<CronJob, 'job' | 'place'>): string {
  return job.place === 'cron.d' ? `/etc/cron.d/fleet-${job.job}` : '/etc/crontab';
}

/** Plans every guest's start; `previous` is what guests carry now (see readPrevious in edits.ts). */
export function planJob(
  job: CronJob,
  guests: readonly Guest[],
  opts: { previous?: ReadonlyMap<string, PreviousJob>; fresh?: boolean } = {},
): JobPlan {
  const previous = opts.previous ?? new Map<string, PreviousJob>();
  const known = guests.filter((g) => previous.has(g.host)).length;
  let out: GuestSlot[];
  let slots: Plan | undefined;
  let geometry: SlotGeometry | undefined;
  if (job.timing.kind === 'window') {
    const t = job.timing;
    geometry = slotGeometry(t.window, t.slotMinutes);
    const prevSlots = new Map<string, number>();
    for (const [host, p] of previous) if (p.slot !== undefined) prevSlots.set(host, p.slot);
    slots = planSlots(guests, { job: job.job, window: t.window, slotMinutes: t.slotMinutes, cap: t.cap, previous: prevSlots, fresh: opts.fresh });
    out = slots.assignments.map((a) => ({ host: a.host, address: a.address, slot: a.slot, start: a.start, cron: a.cron }));
  } else {
    const schedule = job.timing.schedule;
    out = guests.map((g) => {
      const cron = expandHashed(schedule, seedKeyFor(g.address, job.job));
      return { host: g.host, address: g.address, slot: null, start: dailyStart(cron), cron };
    });
  }
  if (job.action.kind === 'run-crons' && job.action.scripts.includes('hourly') && out.length > 0) {
    // Hourly scripts get their own capped spread over the hour, or they would all share the slot minute.
    const hourly = planSlots(guests, {
      job: `${job.job}.hourly`, window: '00:00-01:00', slotMinutes: 1, cap: Math.ceil(guests.length / 60) + 1,
    });
    out.forEach((g, i) => (g.hourlyMinute = hourly.assignments[i]!.slot));
  }
  const changed = out.filter((g) => {
    const p = previous.get(g.host);
    if (!p) return true;
    return g.slot !== null ? p.slot !== g.slot : p.cron !== g.cron;
  }).length;
  return { job, guests: out, ...(slots ? { slots } : {}), ...(geometry ? { geometry } : {}), known, changed };
}

/** "HH:MM" if the fields start once a day at a fixed time ("M H * * *"), else null. */
export function dailyStart(cron: string): string | null {
  const m = /^(\d{1,2})\s+(\d{1,2})\s+\*\s+\*\s+\*$/.exec(cron.trim());
  return m ? formatClock(Number(m[2]) * 60 + Number(m[1])) : null;
}

/** First and last start, and when the last block's slot ends (window timing; undefined otherwise). */
export function planSpan(plan: JobPlan): { first: string; last: string; lastEnds: string } | undefined {
  if (!plan.slots || !plan.geometry) return undefined;
  const used = plan.slots.slots.filter((s) => s.hosts.length > 0);
  if (used.length === 0) return undefined;
  const last = used[used.length - 1]!;
  const geo = plan.geometry;
  return {
    first: used[0]!.start,
    last: last.start,
    lastEnds: formatClock(geo.start + (last.index + 1) * geo.slotMinutes),
  };
}
