// What the `fleet cron` commands share around the scheduler's reading flow: the selection (with or
// without the network), the progress display and Ctrl-C, and one warning line per failure reason.
import { UsageError } from '../../core/index.js';
import type { FleetEvent, FleetSummary, GuestTarget, HostResult, SessionOptions } from '../../executor/index.js';
import { foldHosts, loadInventory, select } from '../../inventory/index.js';
import { readAndPlan, readCronFiles, type CronJob, type GuestCron, type ReadPlan } from '../../schedule/index.js';
import { interruptible } from '../interrupt.js';
import { progressDisplay } from '../render.js';
import { resolveSelection, type ResolvedSelection, type SelectionFlags } from '../selection.js';

/** Guests of a selection from the inventory alone: no credentials, no known_hosts, no network. */
export async function inventoryGuests(selection: string | undefined, f: SelectionFlags): Promise<Array<{ host: string; address: string }>> {
  if (selection && f.limit) throw new UsageError('give the selection either as an argument or with --limit, not both');
  const pattern = selection ?? f.limit ?? 'all';
  const hosts = select(await loadInventory(f.inventory), pattern);
  if (hosts.length === 0) throw new UsageError(`selection '${pattern}' matches no host`);
  return hosts.map((h) => ({ host: h.name, address: h.address }));
}

/** resolveSelection, with a hint at --offline where a plan could do without the guests. */
export async function connectSelection(selection: string | undefined, f: SelectionFlags, offlineHint: boolean): Promise<ResolvedSelection> {
  try {
    return await resolveSelection(selection, f);
  } catch (err) {
    if (offlineHint && err instanceof UsageError && /identity/.test(err.message)) {
      throw new UsageError(`${err.message} (or plan from the inventory alone with --offline)`);
    }
    throw err;
  }
}

/** The progress line (unless quiet) and Ctrl-C around one fleet-wide pass. */
async function withProgress<T>(count: number, quiet: boolean | undefined, work: (onEvent: (e: FleetEvent) => void, signal: AbortSignal) => Promise<T>): Promise<T> {
  const progress = quiet ? { onEvent: () => {}, finish: () => {} } : progressDisplay(count);
  try {
    return await interruptible((signal) => work(progress.onEvent, signal));
  } finally {
    progress.finish();
  }
}

/** Every cron file of every target (analyze, simulate). */
export function readAll(targets: GuestTarget[], session: SessionOptions, o: { sudo: boolean; fanout: number; quiet?: boolean }): Promise<{ guests: GuestCron[]; summary: FleetSummary }> {
  return withProgress(targets.length, o.quiet, (onEvent, signal) => readCronFiles(targets, session, { sudo: o.sudo, fanout: o.fanout, onEvent, signal }));
}

/** The job's files of every target, and the plan over them (plan, apply). */
export function readPlan(job: CronJob, targets: GuestTarget[], session: SessionOptions, o: { sudo: boolean; fanout: number; fresh?: boolean; quiet?: boolean }): Promise<ReadPlan> {
  return withProgress(targets.length, o.quiet, (onEvent, signal) => readAndPlan(job, targets, session, { sudo: o.sudo, fanout: o.fanout, fresh: o.fresh, onEvent, signal }));
}

/** One stderr warning per failure reason, hosts folded: "could not read ...: guest[3-5] (3) unreachable, e.g. ...". */
export function warnFailures(results: readonly HostResult[], what: string): void {
  const byReason = new Map<string, HostResult[]>();
  for (const r of results) if (r.status !== 'ok') byReason.set(r.status, [...(byReason.get(r.status) ?? []), r]);
  for (const [reason, rs] of byReason) {
    process.stderr.write(`fleet: warning: ${what}: ${foldHosts(rs.map((r) => r.host))} (${rs.length}) ${reason}, e.g. ${rs[0]!.error ?? ''}\n`);
  }
}
