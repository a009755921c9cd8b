// Applying a job plan to guests: read every guest's job files and plan (the plan needs the slots all
// guests carry before it can place anyone), predict each guest's change from what was read, then
// write: re-read the files on the guest (they may have changed since), check the result parses,
// write atomically with a backup. `fleet cron apply` and the playbook's cron step share this flow.
import { InputError } from '../core/errors.js';
import {
  fanout, withConnection, writeRemoteFile,
  type FleetEvent, type FleetSummary, type GuestTarget, type HostResult, type SessionOptions,
} from '../executor/index.js';
import type { SshConnection } from '../ssh/index.js';
import { jobPaths, previousOf, readCronFiles, readJobFiles, type GuestCron } from './collect.js';
import { checkRunCronsGuest } from './guest-cron-facts.js';
import { unifiedDiff } from './diff.js';
import { checkEdits, guestEdits, type FileEdit } from './edits.js';
import { jobPath, planJob, type CronJob, type GuestSlot, type JobPlan, type PreviousJob } from './job.js';

export interface ReadPlan {
  guests: GuestCron[];
  summary: FleetSummary;
  previous: Map<string, PreviousJob>;
  /** Guests whose job files are malformed: planned as new, and refused at write. */
  problems: Map<string, string>;
  plan: JobPlan;
}

export interface ReadPlanOptions {
  sudo: boolean;
  fanout: number;
  /** Plan from scratch instead of keeping guests in the slots they carry. */
  fresh?: boolean;
  onEvent?: (e: FleetEvent) => void;
  signal?: AbortSignal;
}

/** Reads the job's files on every target and plans every target (unreadable ones as new). */
export async function readAndPlan(job: CronJob, targets: GuestTarget[], session: SessionOptions, o: ReadPlanOptions): Promise<ReadPlan> {
  const read = await readCronFiles(targets, session, { sudo: o.sudo, fanout: o.fanout, paths: jobPaths(job), onEvent: o.onEvent, signal: o.signal });
  const { previous, problems } = previousOf(job, read.guests);
  const plan = planJob(job, targets.map((t) => ({ host: t.name, address: t.address })), { previous, fresh: o.fresh });
  return { ...read, previous, problems, plan };
}

/** What the plan does to one guest's files. */
export interface CronChange {
  edits: FileEdit[];
  changed: boolean;
  /** Unified diff of every file that changes; empty when none does. */
  diff: string;
  /** `/etc/crontab: fleet:nightly at 23:36` */
  what: string;
  /** Why nothing is written although the plan says something. */
  note?: string;
  /** Something the change costs the guest that the user should hear of (hourly scripts left out). */
  warning?: string;
}

/** The guest's change from its files; throws InputError (file and line) when they are malformed. */
export function cronChange(job: CronJob, files: ReadonlyMap<string, string>, slot: GuestSlot): CronChange {
  const { edits, note } = guestEdits(job, files, slot);
  checkEdits(edits);
  const diff = edits
    .filter((e) => e.changed)
    .map((e) => unifiedDiff(e.before ?? '', e.after, { from: e.before === undefined ? '/dev/null' : e.path, to: e.path }))
    .join('');
  return { edits, changed: edits.some((e) => e.changed), diff, what: describeSlot(job, slot), ...(note ? { note } : {}) };
}

export function describeSlot(job: CronJob, g: GuestSlot): string {
  return `${jobPath(job)}: fleet:${job.job} at ${g.start ?? `"${g.cron}"`}`;
}

/**
 * Each guest's result if the plan were applied to the files read (a diff, "unchanged", or why
 * not), and the guests that need a write. `dryRun`: every readable guest gets its prediction.
 */
export function predictApply(r: ReadPlan, o: { dryRun?: boolean } = {}): { results: Map<string, HostResult>; toWrite: string[] } {
  const slotOf = new Map(r.plan.guests.map((g) => [g.host, g]));
  const results = new Map<string, HostResult>();
  const toWrite: string[] = [];
  for (const g of r.guests) {
    const problem = r.problems.get(g.host);
    if (g.result.status !== 'ok' || problem) {
      results.set(g.host, g.result.status === 'ok' ? { ...g.result, status: 'failed', error: `${problem}; nothing written` } : g.result);
      continue;
    }
    const base = { host: g.host, address: g.address, exitCode: 0, stderr: '', durationMs: g.result.durationMs };
    const slot = slotOf.get(g.host)!;
    let c: CronChange;
    try {
      c = cronChange(r.plan.job, g.files, slot);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      results.set(g.host, { ...base, status: 'failed', exitCode: null, stdout: '', changed: false, error: `${g.host}: ${err.message}; nothing written` });
      continue;
    }
    if (c.changed && !o.dryRun) toWrite.push(g.host);
    else results.set(g.host, { ...base, status: 'ok', changed: c.changed, stdout: c.changed ? c.diff : `unchanged: ${c.what}${c.note ? ` (${c.note})` : ''}\n` });
  }
  return { results, toWrite };
}

export interface WriteOptions {
  sudo: boolean;
  /** Keep the replaced file as <file><backupSuffix> (never inside /etc/cron.d, where cron would run it). */
  backup: boolean;
  backupSuffix: string;
  timeoutMs?: number;
}

/** Re-reads the guest's job files and shows what writing would change; writes nothing. */
export async function previewJob(conn: SshConnection, job: CronJob, slot: GuestSlot, o: { sudo: boolean; timeoutMs?: number }): Promise<CronChange> {
  const warning = await checkRunCronsGuest(conn, job, o);
  return { ...cronChange(job, await readJobFiles(conn, job, o), slot), ...(warning ? { warning } : {}) };
}

/**
 * Gives one guest its planned lines on an open connection: re-read, check, write what changed.
 * Throws InputError (malformed files; nothing written) or the executor's StepError.
 */
export async function writeJob(conn: SshConnection, job: CronJob, slot: GuestSlot, o: WriteOptions): Promise<CronChange & { backup?: string }> {
  const c = await previewJob(conn, job, slot, o);
  let changed = false;
  let backup: string | undefined;
  for (const e of c.edits.filter((x) => x.changed)) {
    const inCronD = e.path.startsWith('/etc/cron.d/');
    const r = await writeRemoteFile(conn, e.path, Buffer.from(e.after), {
      sudo: o.sudo, backup: o.backup && !inCronD, backupSuffix: o.backupSuffix, timeoutMs: o.timeoutMs,
      ...(inCronD ? { mode: 0o644 } : {}),
    });
    changed ||= r.changed;
    if (e.path === jobPath(job) && r.backup) backup = r.backup;
  }
  return { ...c, changed, ...(backup ? { backup } : {}) };
}

/** The write pass of an apply: one session per guest, writeJob, results in the executor's shape. */
export function writeGuests(
  targets: GuestTarget[],
  session: SessionOptions,
  plan: JobPlan,
  o: Omit<WriteOptions, 'timeoutMs'> & { fanout: number; onEvent?: (e: FleetEvent) => void; signal?: AbortSignal },
): Promise<HostResult[]> {
  const slotOf = new Map(plan.guests.map((g) => [g.host, g]));
  return fanout(targets, (t) => withConnection(t, session, async (conn, started) => {
    const base = { host: t.name, address: t.address, exitCode: 0, stderr: '' };
    try {
      const w = await writeJob(conn, plan.job, slotOf.get(t.name)!, { ...o, timeoutMs: session.timeoutMs });
      return { ...base, status: 'ok', stdout: `${w.changed ? 'changed' : 'unchanged'}: ${w.what}\n${w.warning ? `warning: ${w.warning}\n` : ''}`, changed: w.changed, durationMs: Date.now() - started, ...(w.backup ? { backup: w.backup } : {}) };
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      return { ...base, status: 'failed', exitCode: null, stdout: '', changed: false, durationMs: Date.now() - started, error: `${t.name}: ${err.message}; nothing written` };
    }
  }), { fanout: o.fanout, onEvent: o.onEvent, signal: o.signal });
}
