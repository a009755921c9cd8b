// `fleet cron plan [sel]`: every selected guest's start for a job, as a table of slots or JSON Lines.
// Reads the slots guests carry now (unless --offline) so a regeneration keeps them where it can.
import { EXIT } from '../../core/index.js';
import { expandStarts, planJob, planSpan, type JobPlan } from '../../schedule/index.js';
import { setExitStatus } from '../exit.js';
import { connectSelection, inventoryGuests, readPlan, warnFailures } from './cron-guests.js';
import { jobFromFlags, type JobFlags } from './cron-options.js';
import { foldedCell, hourChart, listTimes, table } from './cron-render.js';

export interface PlanFlags extends JobFlags {
  offline?: boolean;
  json?: boolean;
}

const out = (s: string) => process.stdout.write(s);

export async function cronPlan(selection: string | undefined, f: PlanFlags): Promise<void> {
  const job = jobFromFlags(f, true)!;
  let plan: JobPlan;
  let read = false;
  if (f.offline) {
    plan = planJob(job, await inventoryGuests(selection, f), { fresh: f.fresh });
  } else {
    const sel = await connectSelection(selection, f, true);
    const r = await readPlan(job, sel.targets, sel.session, { sudo: f.sudo, fanout: f.fanout, fresh: f.fresh, quiet: f.json });
    plan = r.plan;
    read = r.summary.ok > 0;
    warnFailures(r.guests.map((g) => g.result), 'could not read the current slot of');
    for (const p of r.problems.values()) process.stderr.write(`fleet: warning: ${p}; planning this guest as new\n`);
    if (r.summary['hostkey-refused'] > 0) setExitStatus(EXIT.hostKey);
  }
  if (f.json) printJson(plan, { offline: !!f.offline, fresh: !!f.fresh });
  else printPlan(plan, { offline: !!f.offline, read, fresh: !!f.fresh });
}

/** Per-minute starts of a hashed plan over today (weekly or monthly lines count on their days only). */
function hashedPeak(plan: JobPlan): { peak: number; peakMinutes: string[]; counts: number[] } {
  const entries = plan.guests.map((g) => ({ host: g.host, file: 'plan', line: 0, schedule: g.cron, command: plan.job.job }));
  const day = expandStarts(entries, new Date());
  return { peak: day.peak, peakMinutes: day.peakMinutes, counts: day.counts };
}

function summaryOf(plan: JobPlan, o: { offline: boolean; fresh: boolean }): Record<string, unknown> {
  const t = plan.job.timing;
  const base = { job: plan.job.job, guests: plan.guests.length, known: plan.known, changed: plan.changed, fresh: o.fresh, offline: o.offline };
  if (t.kind === 'hashed') {
    const { peak, peakMinutes } = hashedPeak(plan);
    return { ...base, schedule: t.schedule, peakPerMinute: peak, peakMinutes };
  }
  const span = planSpan(plan);
  return {
    ...base, window: t.window, slotMinutes: t.slotMinutes, slots: plan.geometry!.count, cap: t.cap,
    peak: plan.slots!.peak, optimum: plan.slots!.optimum,
    firstStart: span?.first ?? null, lastStart: span?.last ?? null, lastEnds: span?.lastEnds ?? null,
  };
}

function printJson(plan: JobPlan, o: { offline: boolean; fresh: boolean }): void {
  for (const g of plan.guests) out(`${JSON.stringify({ host: g.host, address: g.address, slot: g.slot, start: g.start, cron: g.cron })}\n`);
  out(`${JSON.stringify({ summary: summaryOf(plan, o) })}\n`);
}

function printPlan(plan: JobPlan, o: { offline: boolean; read: boolean; fresh: boolean }): void {
  const t = plan.job.timing;
  const n = plan.guests.length;
  const what = plan.job.action.kind === 'run-crons' ? `run-crons replaced by ${plan.job.action.scripts.join(',')} scripts` : plan.job.action.command;
  if (t.kind === 'window') {
    const geo = plan.geometry!;
    out(`plan ${plan.job.job}: ${n} guests, window ${t.window} = ${geo.count} slots of ${t.slotMinutes} min, cap ${t.cap}\n`);
    out(`runs: ${what}\n\n`);
    const used = plan.slots!.slots.filter((s) => s.hosts.length > 0);
    out(table(['start', 'guests', 'hosts'], used.map((s) => [s.start, String(s.hosts.length), foldedCell(s.hosts)])));
    const span = planSpan(plan);
    out(`\npeak ${plan.slots!.peak} guests in one slot (best possible ${plan.slots!.optimum}, cap ${t.cap}); ` +
      `${geo.count - used.length} of ${geo.count} slots empty\n`);
    if (span) out(`first block starts ${span.first}; last block starts ${span.last}, its slot ends ${span.lastEnds}\n`);
  } else {
    out(`plan ${plan.job.job}: ${n} guests, hashed schedule "${t.schedule}" (spread by hash, no cap)\n`);
    out(`runs: ${what}\n\n`);
    const byCron = new Map<string, string[]>();
    for (const g of plan.guests) byCron.set(g.cron, [...(byCron.get(g.cron) ?? []), g.host]);
    const { peak, peakMinutes, counts } = hashedPeak(plan);
    if (byCron.size <= 40) {
      const rows = [...byCron].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
      out(table(['cron', 'guests', 'hosts'], rows.map(([cron, hosts]) => [cron, String(hosts.length), foldedCell(hosts)])));
    } else {
      out(`${byCron.size} distinct lines; starts per hour:\n`);
      out(hourChart(counts));
    }
    out(`\npeak ${peak} guests start in one minute, at ${listTimes(peakMinutes)}\n`);
  }
  if (plan.job.action.kind === 'run-crons' && plan.job.action.scripts.includes('hourly')) {
    out('hourly scripts: each guest at its own minute past the hour, at most ' +
      `${Math.ceil(n / 60) + 1} guests per minute\n`);
  }
  if (o.offline) out('planned from the inventory alone (--offline): the slots guests carry now were not read\n');
  else if (!o.read) out('no guest could be read: planned from the inventory alone\n');
  else if (plan.known === 0) out(`no guest carries fleet:${plan.job.job} yet: this plan places all ${n}\n`);
  else {
    out(`${plan.known} guests carry fleet:${plan.job.job} now; this plan changes ${plan.changed} of ${n} guests ` +
      `(${n - plan.known} new to the job)${o.fresh ? ', planned from scratch (--fresh)' : ''}\n`);
  }
}
