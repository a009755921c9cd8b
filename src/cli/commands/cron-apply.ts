// `fleet cron apply [sel]`: gives every selected guest its planned line(s) as a managed block.
//
// Two short sessions per guest: the first reads every guest's cron files (the plan needs the slots
// all guests carry before it can place anyone), the second re-reads the files it will edit, checks
// the result parses, and writes atomically with a backup. Guests whose files already match are not
// visited twice, so re-applying an unchanged plan touches nothing and says so.
import { EXIT, InputError } from '../../core/index.js';
import {
  backupSuffix, exitCodeOf, fanout, StepError, summarize, withConnection, wrapSudo, writeRemoteFile,
  type GuestTarget, type HostResult, type SessionOptions,
} from '../../executor/index.js';
import {
  checkEdits, dumpScript, guestEdits, jobPath, parseDump, planJob, unifiedDiff,
  type CronJob, type GuestSlot, type JobPlan,
} from '../../schedule/index.js';
import type { SshConnection } from '../../ssh/index.js';
import { setExitStatus } from '../exit.js';
import { interruptible } from '../interrupt.js';
import { printGathered, printJsonLines, progressDisplay } from '../render.js';
import { connectSelection, jobPaths, previousOf, readCronFiles, type GuestCron } from './cron-guests.js';
import { jobFromFlags, type JobFlags } from './cron-options.js';

export interface ApplyFlags extends JobFlags {
  dryRun?: boolean;
  backup: boolean;
  yes?: boolean;
  json?: boolean;
}

const out = (s: string) => process.stdout.write(s);
const guests = (n: number) => `${n} guest${n === 1 ? '' : 's'}`;

export async function cronApply(selection: string | undefined, f: ApplyFlags): Promise<void> {
  const job = jobFromFlags(f, true)!;
  const sel = await connectSelection(selection, f, false);
  const t0 = Date.now();
  const read = await readCronFiles(sel.targets, sel.session, { sudo: f.sudo, fanout: f.fanout, quiet: f.json, paths: jobPaths(job) });
  if (read.summary.notRun > 0) {
    // Interrupted while reading: a plan without every guest's current slot is not one to write.
    process.stderr.write(`fleet: interrupted before ${read.summary.notRun} guests were read; nothing written\n`);
    setExitStatus(EXIT.someFailed);
    return;
  }
  const { previous, problems } = previousOf(job, read.guests);
  const plan = planJob(job, sel.targets.map((t) => ({ host: t.name, address: t.address })), { previous, fresh: f.fresh });
  const slotOf = new Map(plan.guests.map((g) => [g.host, g]));

  // What each readable guest would get, from the files just read: diffs for --dry-run, and who to visit again.
  const results = new Map<string, HostResult>();
  const toWrite: GuestTarget[] = [];
  for (const g of read.guests) {
    const problem = problems.get(g.host);
    if (g.result.status !== 'ok' || problem) {
      results.set(g.host, g.result.status === 'ok' ? { ...g.result, status: 'failed', error: `${problem}; nothing written` } : g.result);
      continue;
    }
    const predicted = predict(job, g, slotOf.get(g.host)!);
    if (f.dryRun || !predicted.changed || predicted.result.status !== 'ok') results.set(g.host, predicted.result);
    else toWrite.push(sel.targets.find((t) => t.name === g.host)!);
  }

  if (toWrite.length > 0 && !(await confirmed(f, toWrite.length, plan))) {
    process.stderr.write('fleet: nothing written\n');
    setExitStatus(EXIT.someFailed);
    return;
  }
  if (toWrite.length > 0) {
    const suffix = backupSuffix();
    const progress = f.json ? { onEvent: () => {}, finish: () => {} } : progressDisplay(toWrite.length);
    const written = await interruptible((signal) =>
      fanout(toWrite, (t) => writeGuest(t, sel.session, job, slotOf.get(t.name)!, { sudo: f.sudo, backup: f.backup, suffix }), {
        fanout: f.fanout, onEvent: progress.onEvent, signal,
      }),
    );
    progress.finish();
    for (const r of written) results.set(r.host, r);
  }

  const ordered = sel.targets.flatMap((t) => results.get(t.name) ?? []);
  const summary = summarize(ordered, sel.targets.length, Date.now() - t0);
  if (f.json) printJsonLines(ordered, summary);
  else {
    printGathered(ordered, summary, f.dryRun ? 'dry run' : 'apply');
    const changed = ordered.filter((r) => r.status === 'ok' && r.changed).length;
    const same = ordered.filter((r) => r.status === 'ok' && !r.changed).length;
    if (f.dryRun) out(`${guests(changed)} would change, ${same} already carry this plan; nothing was written\n`);
    else if (changed === 0 && same > 0) out(`nothing changed: ${same === summary.total ? 'all ' : ''}${guests(same)} already carry this plan\n`);
    else out(`changed ${guests(changed)}${f.backup ? ' (each old file kept as <file>.fleet-bak-<time>, except in /etc/cron.d)' : ''}; ${same} already carried this plan\n`);
  }
  setExitStatus(exitCodeOf(summary));
}

/** The guest's result if the plan were applied to the files read: a diff, "unchanged", or why not. */
function predict(job: CronJob, g: GuestCron, slot: GuestSlot): { changed: boolean; result: HostResult } {
  const base = { host: g.host, address: g.address, exitCode: 0, stderr: '', durationMs: g.result.durationMs };
  try {
    const { edits, note } = guestEdits(job, g.files, slot);
    checkEdits(edits);
    const changed = edits.some((e) => e.changed);
    const diff = edits.map((e) => unifiedDiff(e.before ?? '', e.after, { from: e.before === undefined ? '/dev/null' : e.path, to: e.path })).join('');
    const stdout = changed ? diff : `unchanged: ${describe(job, slot)}${note ? ` (${note})` : ''}\n`;
    return { changed, result: { ...base, status: 'ok', stdout, changed } };
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    return { changed: false, result: { ...base, status: 'failed', exitCode: null, stdout: '', changed: false, error: `${g.host}: ${err.message}; nothing written` } };
  }
}

function describe(job: CronJob, g: GuestSlot): string {
  return `${jobPath(job)}: fleet:${job.job} at ${g.start ?? `"${g.cron}"`}`;
}

/** Second session: re-read what will be edited (it may have changed since), check, write. */
function writeGuest(
  t: GuestTarget,
  session: SessionOptions,
  job: CronJob,
  slot: GuestSlot,
  o: { sudo: boolean; backup: boolean; suffix: string },
): Promise<HostResult> {
  return withConnection(t, session, async (conn, started) => {
    const files = await readJobFiles(conn, job, { sudo: o.sudo, timeoutMs: session.timeoutMs });
    const base = { host: t.name, address: t.address, exitCode: 0, stderr: '' };
    let edits;
    try {
      edits = guestEdits(job, files, slot).edits;
      checkEdits(edits);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      return { ...base, status: 'failed', exitCode: null, stdout: '', changed: false, durationMs: Date.now() - started, error: `${t.name}: ${err.message}; nothing written` };
    }
    let changed = false;
    let backup: string | undefined;
    for (const e of edits.filter((x) => x.changed)) {
      // A copy inside /etc/cron.d would be read by cron as one more crontab: no backup there.
      const inCronD = e.path.startsWith('/etc/cron.d/');
      const r = await writeRemoteFile(conn, e.path, Buffer.from(e.after), {
        sudo: o.sudo, backup: o.backup && !inCronD, backupSuffix: o.suffix, timeoutMs: session.timeoutMs,
        ...(inCronD ? { mode: 0o644 } : {}),
      });
      changed ||= r.changed;
      if (e.path === jobPath(job) && r.backup) backup = r.backup;
    }
    const stdout = `${changed ? 'changed' : 'unchanged'}: ${describe(job, slot)}\n`;
    return { ...base, status: 'ok', stdout, changed, durationMs: Date.now() - started, ...(backup ? { backup } : {}) };
  });
}

/** Both places the job's block may be, read in one command (the same dump format as the first pass). */
async function readJobFiles(conn: SshConnection, job: CronJob, o: { sudo: boolean; timeoutMs?: number }): Promise<Map<string, string>> {
  const script = dumpScript(jobPaths(job));
  const r = await conn.exec(o.sudo ? wrapSudo(script) : script, { timeoutMs: o.timeoutMs });
  const host = conn.options.name;
  if (r.timedOut) throw new StepError({ host, step: 'read', status: 'timeout' }, `still running after ${o.timeoutMs} ms; stopped`);
  if (r.exitCode === null && !r.signal) throw new StepError({ host, step: 'read', status: 'unreachable' }, 'connection lost');
  if (r.exitCode !== 0) {
    const said = r.stderr.toString().trim().split('\n').at(-1) ?? '';
    throw new StepError({ host, step: 'read', status: 'failed', exitCode: r.exitCode, stderr: r.stderr.toString() }, `cannot read cron files: ${said || `exit status ${r.exitCode}`}`);
  }
  let dump;
  try {
    dump = parseDump(r.stdout.toString(), host);
  } catch (err) {
    throw new StepError({ host, step: 'read', status: 'failed' }, (err as Error).message);
  }
  if (dump.unreadable.length > 0) {
    throw new StepError({ host, step: 'read', status: 'failed' }, `cannot read ${dump.unreadable.join(', ')} (use sudo)`);
  }
  return new Map(dump.files.map((f) => [f.path, f.text]));
}

/** On a terminal, asks before writing (unless --yes); never asks otherwise. */
async function confirmed(f: ApplyFlags, count: number, plan: JobPlan): Promise<boolean> {
  if (f.yes || f.json || !process.stdin.isTTY || !process.stdout.isTTY) return true;
  const inquirer = (await import('inquirer')).default;
  const { ok } = await inquirer.prompt<{ ok: boolean }>([
    { type: 'confirm', name: 'ok', default: false, message: `Write fleet:${plan.job.job} to ${count} guests' cron files?` },
  ]);
  return ok;
}
