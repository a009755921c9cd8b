// A job as a person describes it (flags of `fleet cron`, keys of a playbook's cron step) turned into
// the CronJob the scheduler trusts: defaults filled, combinations checked once. `name` spells an
// option the way its source does (`--slot` on the command line, `slot` in a playbook).
import { UsageError } from '../core/errors.js';
import { JOB_DEFAULTS } from './job-defaults.js';
import { normalizeJob, type CronJob } from './job.js';
import type { Period } from './runcrons.js';
import { parseSlot } from './window.js';

export interface JobOptions {
  job?: string;
  command?: string;
  /** When the job may start, "HH:MM-HH:MM" (default 23:00-06:00). */
  window?: string;
  /** "12m", "12" or "1h" (default 12m). */
  slot?: string;
  /** Most guests starting in one slot (default 15). */
  cap?: number;
  schedule?: string;
  replaceRunCrons?: boolean;
  /** Comma list of hourly, daily, weekly, monthly (default daily,weekly,monthly). */
  scripts?: string;
  cronD?: boolean;
  cronUser?: string;
}

export { JOB_DEFAULTS };

const PERIODS = ['hourly', 'daily', 'weekly', 'monthly'];
const dashed = (key: string) => `--${key}`;

/** The job the options describe; undefined when they name none and `required` is false. */
export function jobFromOptions(o: JobOptions, required: boolean, name: (key: string) => string = dashed): CronJob | undefined {
  if (!o.job && !o.replaceRunCrons) {
    if (!required) return undefined;
    throw new UsageError(`name the job: ${name('job')} NAME ${name('command')} CMD, or ${name('replace-run-crons')}`);
  }
  if (o.replaceRunCrons && o.command !== undefined) {
    throw new UsageError(`${name('replace-run-crons')} writes the direct calls of the cron scripts itself; drop ${name('command')}`);
  }
  if (!o.replaceRunCrons && o.command === undefined) throw new UsageError(`job ${o.job}: ${name('command')} CMD says what it runs`);
  const text = o.scripts ?? JOB_DEFAULTS.scripts;
  const scripts = text.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = scripts.filter((s) => !PERIODS.includes(s));
  if (o.replaceRunCrons && (scripts.length === 0 || unknown.length > 0)) {
    throw new UsageError(`${name('scripts')} must list some of ${PERIODS.join(', ')}; got "${text}"`);
  }
  return normalizeJob({
    job: o.job ?? 'run-crons',
    timing: o.schedule !== undefined
      ? { kind: 'hashed', schedule: o.schedule }
      : { kind: 'window', window: o.window ?? JOB_DEFAULTS.window, slotMinutes: parseSlot(o.slot ?? JOB_DEFAULTS.slot, name), cap: o.cap ?? JOB_DEFAULTS.cap },
    action: o.replaceRunCrons ? { kind: 'run-crons', scripts: scripts as Period[] } : { kind: 'command', command: o.command! },
    place: o.cronD ? 'cron.d' : 'crontab',
    user: o.cronUser ?? JOB_DEFAULTS.cronUser,
  });
}
