// Load analysis: how many guest jobs start in each minute of one day, and which entries make the peak.
//
// Minutes are wall-clock minutes in `tz` (bucket = hour * 60 + minute). On a day that springs
// forward the skipped hour's buckets stay empty (cron-parser moves those runs as cron does); on a day
// that falls back both passes of the repeated hour land in the same buckets, which overstates that
// hour rather than hiding a storm. @reboot entries have no time of day and are listed as skipped.
// An entry under a CRON_TZ runs at its schedule's times in that zone, counted in `tz`'s minutes.
import { CronDate, CronExpressionParser } from 'cron-parser';
import { InputError } from '../core/errors.js';
import { checkSchedule } from './cronsyntax.js';
import { formatClock } from './window.js';

export interface StartEntry {
  host: string;
  file: string;
  line: number;
  /** Five fields or a nickname, as in the crontab. */
  schedule: string;
  command: string;
  /** The entry's CRON_TZ, when its crontab sets one: the zone its schedule is read in. */
  tz?: string;
}

export interface PeakCause {
  schedule: string;
  command: string;
  /** Starts this (schedule, command) pair contributes to the peak minutes. */
  starts: number;
  hosts: string[];
}

export interface DayStarts {
  /** 1440 buckets: starts per wall-clock minute. */
  counts: number[];
  peak: number;
  /** Every minute ("HH:MM") that reaches the peak. */
  peakMinutes: string[];
  /** What starts in the peak minutes, largest contributor first. */
  causes: PeakCause[];
  /** Entries without a time of day (@reboot). */
  skipped: StartEntry[];
}

/** One entry and the wall-clock minutes (hour * 60 + minute) it starts at on the day expanded. */
export interface TimedEntry {
  entry: StartEntry;
  minutes: number[];
}

/**
 * Expands each entry over the calendar day containing `day` in `tz` (default UTC): the per-entry
 * view behind expandStarts, for callers that need to know which entry starts when (the host model).
 */
export function expandEntries(
  entries: readonly StartEntry[],
  day: Date,
  tz = 'UTC',
): { timed: TimedEntry[]; skipped: StartEntry[] } {
  const { from, to } = dayBounds(day, tz);

  // Clones share schedules, so each distinct one is expanded once.
  const minutesOf = new Map<string, number[]>();
  const skipped: StartEntry[] = [];
  const timed: TimedEntry[] = [];
  for (const entry of entries) {
    const checked = checkSchedule(entry.schedule);
    if ('error' in checked) {
      throw new InputError(`${entry.host}: ${checked.error}`, { file: entry.file, line: entry.line });
    }
    if (checked.fields === null) {
      skipped.push(entry);
      continue;
    }
    const key = `${entry.tz ?? tz}\n${checked.fields}`;
    let minutes = minutesOf.get(key);
    if (!minutes) {
      minutes = expandDay(checked.fields, from, to, entry.tz ?? tz, tz);
      minutesOf.set(key, minutes);
    }
    timed.push({ entry, minutes });
  }
  return { timed, skipped };
}

/** Expands every entry over the calendar day containing `day` in `tz` (default UTC). */
export function expandStarts(entries: readonly StartEntry[], day: Date, tz = 'UTC'): DayStarts {
  const { timed, skipped } = expandEntries(entries, day, tz);
  const counts: number[] = new Array(1440).fill(0);
  for (const { minutes } of timed) for (const m of minutes) counts[m]!++;

  const peak = Math.max(...counts);
  const peakSet = new Set(peak === 0 ? [] : counts.flatMap((c, m) => (c === peak ? [m] : [])));
  const causes = new Map<string, PeakCause>();
  for (const { entry, minutes } of timed) {
    const hits = minutes.filter((m) => peakSet.has(m)).length;
    if (hits === 0) continue;
    const key = `${entry.schedule}\n${entry.command}`;
    const cause = causes.get(key) ?? { schedule: entry.schedule, command: entry.command, starts: 0, hosts: [] };
    cause.starts += hits;
    if (!cause.hosts.includes(entry.host)) cause.hosts.push(entry.host);
    causes.set(key, cause);
  }
  return {
    counts,
    peak,
    peakMinutes: [...peakSet].map(formatClock),
    causes: [...causes.values()].sort((a, b) => b.starts - a.starts || (a.schedule < b.schedule ? -1 : 1)),
    skipped,
  };
}

/** Start and end (exclusive) in epoch ms of the calendar day containing `day` in `tz`. */
function dayBounds(day: Date, tz: string): { from: number; to: number } {
  const first = new CronDate(day, tz);
  first.setStartOfDay();
  const from = first.getTime();
  const to = CronExpressionParser.parse('0 0 * * *', { currentDate: new Date(from), tz }).next().getTime();
  return { from, to };
}

/** A moment inside the calendar day after the one containing `day` in `tz` (its noon, give or take DST). */
export function nextDay(day: Date, tz = 'UTC'): Date {
  return new Date(dayBounds(day, tz).to + 12 * 3_600_000);
}

/** The wall-clock minutes in `tz` at which `fields`, read in `scheduleTz`, starts within [from, to). */
function expandDay(fields: string, from: number, to: number, scheduleTz: string, tz: string): number[] {
  // currentDate is exclusive, so start just before midnight to include a 00:00 run.
  const it = CronExpressionParser.parse(fields, { currentDate: new Date(from - 1000), endDate: new Date(to - 1), tz: scheduleTz });
  const minutes: number[] = [];
  while (it.hasNext()) {
    const at = it.next();
    if (at.getTime() >= to) break;
    const local = scheduleTz === tz ? at : new CronDate(at.getTime(), tz);
    minutes.push(local.getHours() * 60 + local.getMinutes());
  }
  return minutes;
}

