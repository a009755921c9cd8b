// Turns `fleet cron` flags into the scheduler's inputs once: the job (CronJob), the day and the model.
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../../core/index.js';
import { jobFromOptions, parseClock, type CronJob, type LoadModel } from '../../schedule/index.js';
import type { SelectionFlags } from '../selection.js';

export interface JobFlags extends SelectionFlags {
  job?: string;
  command?: string;
  window: string;
  slot: string;
  cap: number;
  schedule?: string;
  replaceRunCrons?: boolean;
  scripts: string;
  cronD?: boolean;
  cronUser: string;
  fresh?: boolean;
  sudo: boolean;
  fanout: number;
}

export interface DayFlags {
  tz: string;
  date?: string;
}

export interface ModelFlags {
  capacity: number;
  jobMinutes: number;
  thrash: number;
  idleSeconds: number;
  dailyAt: string;
  unresponsiveQueue: number;
}

/** The job the flags describe; undefined when they name none and `required` is false. */
export function jobFromFlags(f: JobFlags, required: boolean): CronJob | undefined {
  return jobFromOptions(f, required);
}

/** The day to expand (noon UTC of the date, which lies inside that date in every zone within ±12 h). */
export function dayFromFlags(f: DayFlags): { day: Date; tz: string; label: string } {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: f.tz });
  } catch {
    throw new UsageError(`unknown time zone "${f.tz}": use an IANA name such as UTC or Europe/Berlin`);
  }
  if (f.date === undefined) {
    const label = new Intl.DateTimeFormat('en-CA', { timeZone: f.tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
    return { day: new Date(), tz: f.tz, label };
  }
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(f.date);
  const day = m ? new Date(`${f.date}T12:00:00Z`) : new Date(NaN);
  if (Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== f.date) {
    throw new UsageError(`invalid --date "${f.date}": expected YYYY-MM-DD`);
  }
  return { day, tz: f.tz, label: f.date };
}

export function modelFromFlags(f: ModelFlags): LoadModel {
  const dailyAt = parseClock(f.dailyAt);
  if (dailyAt === undefined) throw new UsageError(`invalid --daily-at "${f.dailyAt}": expected HH:MM`);
  if (!(f.jobMinutes > 0)) throw new UsageError('--job-minutes must be above 0');
  return {
    capacity: f.capacity,
    jobMinutes: f.jobMinutes,
    thrash: f.thrash,
    idleSeconds: f.idleSeconds,
    dailyAt,
    unresponsiveQueue: f.unresponsiveQueue,
  };
}

export interface SvgFlags {
  svg?: string;
  /** The option's earlier name, still accepted. */
  plot?: string;
}

/** Where to write the picture, checked before any guest is read: a missing directory is a usage error. */
export function svgFileFromFlags(f: SvgFlags): string | undefined {
  const file = f.svg ?? f.plot;
  if (file === undefined) return undefined;
  const where = existsSync(file) ? file : dirname(resolve(file));
  const isDir = existsSync(where) && statSync(where).isDirectory();
  if (where === file ? isDir : !isDir) {
    throw new UsageError(where === file ? `--svg ${file}: is a directory, expected a file name` : `--svg ${file}: directory ${where} does not exist`);
  }
  return file;
}
