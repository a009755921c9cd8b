// A day of a fleet's cron starts run through the host model: which start costs how much work.
//
// Not every start is a daily job. SLES's run-crons fires every 15 minutes and usually finds nothing
// due (0.1-2 s on a lone guest, as measured in the field); once a day it runs the daily scripts (~3 min). With
// clones in step, that daily run happens at the same quarter hour everywhere (`dailyAt`). So:
//   - an entry calling run-crons costs `jobMinutes` at `dailyAt` and `idleSeconds` at other times;
//   - an entry that only runs cron.hourly costs `idleSeconds` (the default hourly scripts are checks);
//   - every other entry (a direct daily call, a planned job) costs `jobMinutes`.
// `idleSeconds` = 0.1 puts 500 guests' quarter-hourly run-crons at ~1.5 minutes of queue, the
// field's "totally unresponsive ~1.5 minutes" every 15 minutes (test/schedule/dayload.test.ts).
import { UsageError } from '../core/errors.js';
import { simulateHost, DEFAULT_HOST_MODEL, type HostJob, type HostModel, type HostSimulation } from './hostmodel.js';
import { expandEntries, nextDay, type StartEntry, type TimedEntry } from './starts.js';
import { formatClock } from './window.js';

export interface LoadModel extends HostModel {
  /** Seconds a run-crons (or hourly) start takes when nothing is due. */
  idleSeconds: number;
  /** Minute of day when run-crons runs the daily scripts. */
  dailyAt: number;
}

export const DEFAULT_LOAD_MODEL: Readonly<LoadModel> = { ...DEFAULT_HOST_MODEL, idleSeconds: 0.1, dailyAt: 0 };

export interface DayLoad {
  /** Minute of day the 24 hours simulated begin at (a night window need not be cut at midnight). */
  from: number;
  /** Starts per minute over those 24 hours; index 0 is `from`. */
  counts: number[];
  peak: number;
  /** "HH:MM" of every minute that reaches the peak, in time order. */
  peakMinutes: string[];
  /** The host model's run; its times are minutes from `from`. */
  sim: HostSimulation;
  model: LoadModel;
}

/** Minutes of work one start of `entry` at minute `minute` costs under the model. */
export function startCost(entry: Pick<StartEntry, 'command'>, minute: number, model: LoadModel): number {
  const idle = model.idleSeconds / 60;
  if (/\brun-crons\b/.test(entry.command)) return minute === model.dailyAt ? model.jobMinutes : idle;
  if (/cron\.hourly/.test(entry.command) && !/cron\.(daily|weekly|monthly)/.test(entry.command)) return idle;
  return model.jobMinutes;
}

/** Every start of the day as a job with its cost, in minutes from midnight. */
export function dayJobs(timed: readonly TimedEntry[], model: LoadModel): HostJob[] {
  const jobs: HostJob[] = [];
  for (const { entry, minutes } of timed) {
    for (const m of minutes) jobs.push({ time: m, durationMin: startCost(entry, m, model) });
  }
  return jobs;
}

/**
 * Simulates the 24 hours from minute `from` (default 0, midnight) of the calendar day containing
 * `day` in `tz`: starts after `from` that day and before `from` the next day.
 */
export function simulateDay(
  entries: readonly StartEntry[],
  opts: { day: Date; tz?: string; from?: number; model?: Partial<LoadModel> },
): DayLoad {
  const model: LoadModel = { ...DEFAULT_LOAD_MODEL, ...opts.model };
  const from = opts.from ?? 0;
  if (!(model.idleSeconds >= 0) || !Number.isInteger(model.dailyAt) || model.dailyAt < 0 || model.dailyAt >= 1440) {
    throw new UsageError(`invalid load model: idle seconds ${model.idleSeconds} (>= 0), daily-at minute ${model.dailyAt} (0-1439)`);
  }
  if (!Number.isInteger(from) || from < 0 || from >= 1440) throw new UsageError(`invalid start minute ${from} (0-1439)`);
  const days = [expandEntries(entries, opts.day, opts.tz).timed];
  if (from > 0) days.push(expandEntries(entries, nextDay(opts.day, opts.tz), opts.tz).timed);
  const jobs: HostJob[] = [];
  const counts: number[] = new Array(1440).fill(0);
  days.forEach((timed, d) => {
    for (const job of dayJobs(timed, model)) {
      const t = job.time + d * 1440 - from;
      if (t < 0 || t >= 1440) continue;
      jobs.push({ ...job, time: t });
      counts[t]!++;
    }
  });
  const sim = simulateHost(jobs, model);
  // The queue series covers the whole 24 hours even when the last job ends earlier.
  while (sim.queueSeries.length < 1440) sim.queueSeries.push(0);
  const peak = Math.max(...counts);
  const peakMinutes = peak === 0 ? [] : counts.flatMap((c, m) => (c === peak ? [formatClock(from + m)] : []));
  return { from, counts, peak, peakMinutes, sim, model };
}
