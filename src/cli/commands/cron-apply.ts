// `fleet cron apply [sel]`: gives every selected guest its planned line(s) as a managed block. The
// flow (read and plan, predict, write again checked) is the scheduler's; this parses and prints.
// Guests whose files already match are not visited twice, so re-applying touches nothing and says so.
// The guests it did not write (unreadable, refused, never reached) are recorded for `-l @failed`.
import { EXIT } from '../../core/index.js';
import { backupSuffix, exitCodeOf, summarize } from '../../executor/index.js';
import { predictApply, writeGuests, type JobPlan } from '../../schedule/index.js';
import { setExitStatus } from '../exit.js';
import { interruptible } from '../interrupt.js';
import { printGathered, printJsonLines, progressDisplay } from '../render.js';
import { recordRun } from '../rerun.js';
import { connectSelection, readPlan } from './cron-guests.js';
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
  const read = await readPlan(job, sel.targets, sel.session, { sudo: f.sudo, fanout: f.fanout, fresh: f.fresh, quiet: f.json });
  if (read.summary.notRun > 0) {
    // Interrupted while reading: a plan without every guest's current slot is not one to write.
    process.stderr.write(`fleet: interrupted before ${read.summary.notRun} guests were read; nothing written\n`);
    if (!f.dryRun) process.stderr.write(recordRun('cron apply', f, sel.targets, [], undefined, 'interrupted while reading; nothing written').lines);
    setExitStatus(EXIT.someFailed);
    return;
  }
  const { results, toWrite } = predictApply(read, { dryRun: f.dryRun });
  if (toWrite.length > 0 && !(await confirmed(f, toWrite.length, read.plan))) {
    process.stderr.write('fleet: nothing written\n');
    setExitStatus(EXIT.someFailed);
    return;
  }
  if (toWrite.length > 0) {
    const writing = new Set(toWrite);
    const progress = f.json ? { onEvent: () => {}, finish: () => {} } : progressDisplay(toWrite.length);
    const written = await interruptible((signal) =>
      writeGuests(sel.targets.filter((t) => writing.has(t.name)), sel.session, read.plan, {
        sudo: f.sudo, backup: f.backup, backupSuffix: backupSuffix(), fanout: f.fanout, onEvent: progress.onEvent, signal,
      }),
    );
    progress.finish();
    for (const r of written) results.set(r.host, r);
  }

  const ordered = sel.targets.flatMap((t) => results.get(t.name) ?? []);
  const summary = summarize(ordered, sel.targets.length, Date.now() - t0);
  // A dry run writes nothing, so it leaves the list of the last real apply as it was.
  const undone = f.dryRun ? { summary: {}, lines: '' } : recordRun('cron apply', f, sel.targets, ordered, undefined, 'interrupted');
  if (f.json) printJsonLines(ordered, { ...summary, ...undone.summary });
  else {
    printGathered(ordered, summary, f.dryRun ? 'dry run' : 'apply');
    const changed = ordered.filter((r) => r.status === 'ok' && r.changed).length;
    const same = ordered.filter((r) => r.status === 'ok' && !r.changed).length;
    if (f.dryRun) out(`${guests(changed)} would change, ${same} already carry this plan; nothing was written\n`);
    else if (changed === 0 && same > 0) out(`nothing changed: ${same === summary.total ? 'all ' : ''}${guests(same)} already carry this plan\n`);
    else out(`changed ${guests(changed)}${f.backup ? ' (each old file kept as <file>.fleet-bak-<time>, except in /etc/cron.d)' : ''}; ${same} already carried this plan\n`);
    out(undone.lines);
  }
  setExitStatus(exitCodeOf(summary));
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
