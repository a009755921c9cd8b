// Turns `fleet cron` flags into the scheduler's inputs once: the job (CronJob), the day and the model.
import { UsageError } from '../../core/index.js';
import { normalizeJob, parseClock, type CronJob, type LoadModel, type Period } from '../../schedule/index.js';
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

/** "12m", "12" or "1h" as whole minutes. */
export function parseSlot(text: string): number {
  const m = /^(\d+)\s*(m|min|h)?$/.exec(text.trim());
  const minutes = m ? Number(m[1]) * (m[2] === 'h' ? 60 : 1) : NaN;
  if (!Number.isInteger(minutes) || minutes < 1) throw new UsageError(`invalid --slot "${text}": expected minutes like 12m, 12 or 1h`);
  return minutes;
}

const PERIODS = ['hourly', 'daily', 'weekly', 'monthly'];

/** The job the flags describe; undefined when they name none and `required` is false. */
export function jobFromFlags(f: JobFlags, required: boolean): CronJob | undefined {
  if (!f.job && !f.replaceRunCrons) {
    if (!required) return undefined;
    throw new UsageError('name the job: --job NAME --command CMD, or --replace-run-crons');
  }
  if (f.replaceRunCrons && f.command !== undefined) {
    throw new UsageError('--replace-run-crons writes the direct calls of the cron scripts itself; drop --command');
  }
  if (!f.replaceRunCrons && f.command === undefined) throw new UsageError(`job ${f.job}: --command CMD says what it runs`);
  const scripts = f.scripts.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = scripts.filter((s) => !PERIODS.includes(s));
  if (f.replaceRunCrons && (scripts.length === 0 || unknown.length > 0)) {
    throw new UsageError(`--scripts must list some of ${PERIODS.join(', ')}; got "${f.scripts}"`);
  }
  return normalizeJob({
    job: f.job ?? 'run-crons',
    timing: f.schedule !== undefined
      ? { kind: 'hashed', schedule: f.schedule }
      : { kind: 'window', window: f.window, slotMinutes: parseSlot(f.slot), cap: f.cap },
    action: f.replaceRunCrons ? { kind: 'run-crons', scripts: scripts as Period[] } : { kind: 'command', command: f.command! },
    place: f.cronD ? 'cron.d' : 'crontab',
    user: f.cronUser,
  });
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
