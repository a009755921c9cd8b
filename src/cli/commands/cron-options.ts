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

/**
 * The day to expand (noon UTC of the date, which lies inside that date in every zone within ±12 h).
 * --tz and --date were checked by their schemas (../option-specs.ts).
 */
export function dayFromFlags(f: DayFlags): { day: Date; tz: string; label: string } {
  if (f.date === undefined) {
    const label = new Intl.DateTimeFormat('en-CA', { timeZone: f.tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
    return { day: new Date(), tz: f.tz, label };
  }
  return { day: new Date(`${f.date}T12:00:00Z`), tz: f.tz, label: f.date };
}

/** The host model the flags describe (each value checked by its schema: --daily-at a time, --job-minutes above 0). */
export function modelFromFlags(f: ModelFlags): LoadModel {
  return {
    capacity: f.capacity,
    jobMinutes: f.jobMinutes,
    thrash: f.thrash,
    idleSeconds: f.idleSeconds,
    dailyAt: parseClock(f.dailyAt)!,
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
