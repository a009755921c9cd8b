// Replaces SLES's every-15-minutes run-crons with direct run-parts calls at the guest's own slot.
//
// run-crons fired on every clone at the same instant (the field's "cron storm"); the remedy was
// to call the remaining cron.<period> scripts straight from /etc/crontab at a staggered time. The
// daily, weekly and monthly scripts share one entry and run one after another, as run-crons ran
// them, so a guest never holds more than one slot's worth of load. The original line is kept as a
// comment, which also makes a second run find nothing left to replace.
import { InputError } from '../core/errors.js';
import { applyManagedBlock, readManagedBlock } from './block.js';
import { parseCrontabLine, splitLines } from './crontab.js';

export type Period = 'hourly' | 'daily' | 'weekly' | 'monthly';

export interface RunCronsOptions {
  /** The guest's slot as cron fields, "M H * * *" (Assignment.cron). */
  slotCron: string;
  /** Which /etc/cron.<period> directories to keep running. */
  scripts: readonly Period[];
  /** Managed block name; default "run-crons". */
  job?: string;
  /** Default "root". */
  user?: string;
  /** Minute past each hour for cron.hourly; default the slot's minute. */
  hourlyMinute?: number;
  /** Comment lines put first in the block (the plan's stamp, so the next plan can find the slot). */
  header?: readonly string[];
  file?: string;
}

const PERIODS: readonly Period[] = ['hourly', 'daily', 'weekly', 'monthly'];
// `%` is a line break to cron, so the date formats are escaped.
const WHEN: Record<Period, string> = {
  hourly: '',
  daily: '',
  weekly: 'test $(date +\\%u) -eq 7 && ',
  monthly: 'test $(date +\\%d) -eq 1 && ',
};

/**
 * Comments out every entry that invokes run-crons and puts the direct calls in a managed block.
 * A crontab with neither a run-crons entry nor our block is returned unchanged.
 */
export function replaceRunCrons(
  text: string,
  opts: RunCronsOptions,
): { text: string; changed: boolean; disabled: number[] } {
  const job = opts.job ?? 'run-crons';
  const lines = [...(opts.header ?? []), ...directCalls(opts)];
  const disabled: number[] = [];
  const out = splitLines(text).map((line, i) => {
    const parsed = parseCrontabLine(line, { systemFormat: true });
    if (!('kind' in parsed) || parsed.kind !== 'entry' || !/\brun-crons\b/.test(parsed.command)) return line;
    disabled.push(i + 1);
    return `# disabled by fleet:${job}: ${line}`;
  });
  if (disabled.length === 0 && !readManagedBlock(text, job, { file: opts.file })) {
    return { text, changed: false, disabled };
  }
  const rewritten = disabled.length === 0 ? text : out.join('\n') + (text.endsWith('\n') ? '\n' : '');
  const applied = applyManagedBlock(rewritten, job, lines, { file: opts.file });
  return { text: applied.text, changed: applied.text !== text, disabled };
}

/** The entries that replace run-crons for one guest. */
export function directCalls(opts: RunCronsOptions): string[] {
  const m = /^(\d{1,2})\s+(\d{1,2})\s+\*\s+\*\s+\*$/.exec(opts.slotCron.trim());
  if (!m || Number(m[1]) > 59 || Number(m[2]) > 23) {
    throw new InputError(`slot cron "${opts.slotCron}" is not a daily time "M H * * *"`, { file: opts.file });
  }
  const unknown = opts.scripts.filter((p) => !PERIODS.includes(p));
  if (opts.scripts.length === 0 || unknown.length > 0) {
    const got = opts.scripts.join(',');
    throw new InputError(`scripts must be some of ${PERIODS.join(', ')}; got "${got}"`, { file: opts.file });
  }
  const user = opts.user ?? 'root';
  const [minute, hour] = [Number(m[1]), Number(m[2])];
  const lines: string[] = [];
  if (opts.scripts.includes('hourly')) {
    const hm = opts.hourlyMinute ?? minute;
    if (!Number.isInteger(hm) || hm < 0 || hm > 59) {
      throw new InputError(`hourly minute ${hm} is not 0-59`, { file: opts.file });
    }
    lines.push(`${hm} * * * * ${user} run-parts /etc/cron.hourly`);
  }
  const chain = PERIODS.filter((p) => p !== 'hourly' && opts.scripts.includes(p)).map(
    (p) => `${WHEN[p]}run-parts /etc/cron.${p}`,
  );
  if (chain.length > 0) lines.push(`${minute} ${hour} * * * ${user} ${chain.join('; ')}`);
  return lines;
}
