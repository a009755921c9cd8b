// What a guest must have for the direct calls that replace run-crons: run-parts on its PATH (SLES
// images may lack it; the lines would then fail every night without a word), and which scripts
// /etc/cron.hourly holds (left out of --scripts, they would never run again).
import { InputError } from '../core/errors.js';
import { wrapSudo } from '../executor/index.js';
import type { SshConnection } from '../ssh/index.js';
import type { CronJob } from './job.js';

/** Read-only; run as the session user or under sudo. */
export const PROBE = 'command -v run-parts >/dev/null 2>&1 && echo run-parts; ' +
  'for f in /etc/cron.hourly/*; do [ -f "$f" ] && [ -x "$f" ] && echo "hourly ${f##*/}"; done; true';

export interface RunCronsFacts {
  runParts: boolean;
  /** Executable scripts in /etc/cron.hourly. */
  hourly: string[];
}

export function parseFacts(out: string): RunCronsFacts {
  const lines = out.split('\n');
  return { runParts: lines.includes('run-parts'), hourly: lines.filter((l) => l.startsWith('hourly ')).map((l) => l.slice(7)) };
}

/** For a run-crons job: throws InputError when the guest has no run-parts; the warning when its hourly scripts would stop running. */
export function runCronsVerdict(job: CronJob, facts: RunCronsFacts): string | undefined {
  if (job.action.kind !== 'run-crons') return undefined;
  if (!facts.runParts) {
    throw new InputError('run-parts is not on this guest\'s PATH: the direct calls replacing run-crons would fail every time; install it (Debian: debianutils) or keep run-crons');
  }
  if (job.action.scripts.includes('hourly') || facts.hourly.length === 0) return undefined;
  const n = facts.hourly.length;
  return `/etc/cron.hourly holds ${n} script${n === 1 ? '' : 's'} (${facts.hourly.join(', ')}) that no line runs any more: ` +
    'add hourly to --scripts to keep them in an hourly slot';
}

/** Probes the guest on an open connection (run-crons jobs only) and returns runCronsVerdict's warning. */
export async function checkRunCronsGuest(conn: SshConnection, job: CronJob, o: { sudo: boolean; timeoutMs?: number }): Promise<string | undefined> {
  if (job.action.kind !== 'run-crons') return undefined;
  const r = await conn.exec(o.sudo ? wrapSudo(PROBE) : PROBE, { timeoutMs: o.timeoutMs });
  if (r.exitCode !== 0) return undefined; // the read that follows reports what is wrong with the session
  return runCronsVerdict(job, parseFacts(r.stdout.toString()));
}
