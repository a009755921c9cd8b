// `fleet cron simulate [sel]`: the day's job starts of the guests' current crontabs ("before") run
// through the host model; with a job (--job/--replace-run-crons and the plan options), the same
// guests after that plan was applied ("after"), side by side.
import { writeFileSync } from 'node:fs';
import { EXIT, InputError } from '../../core/index.js';
import { foldHosts } from '../../inventory/index.js';
import {
  cronEntries, fleetCron, guestEdits, parseClock, planJob, previousOf, simulateDay,
  type CronJob, type DayLoad, type GuestCron, type JobPlan, type LoadModel, type StartEntry,
} from '../../schedule/index.js';
import { setExitStatus } from '../exit.js';
import { resolveSelection } from '../selection.js';
import { readAll, warnFailures } from './cron-guests.js';
import { dayFromFlags, jobFromFlags, modelFromFlags, svgFileFromFlags, type DayFlags, type JobFlags, type ModelFlags, type SvgFlags } from './cron-options.js';
import { clock, clockFromMidnight, listTimes } from './cron-render.js';
import { loadSvg } from './cron-svg.js';

export interface SimulateFlags extends JobFlags, DayFlags, ModelFlags, SvgFlags {
  from: string;
  json?: boolean;
}

const out = (s: string) => process.stdout.write(s);

export async function cronSimulate(selection: string | undefined, f: SimulateFlags): Promise<void> {
  const job = jobFromFlags(f, false);
  const when = dayFromFlags(f);
  const model = modelFromFlags(f);
  const from = parseClock(f.from)!; // a time of day: checked by its schema
  const svgFile = svgFileFromFlags(f);
  const sel = await resolveSelection(selection, f);
  const read = await readAll(sel.targets, sel.session, { sudo: f.sudo, fanout: f.fanout, quiet: f.json });
  const readable = read.guests.filter((g) => g.dump);
  const before = fleetCron(readable);
  const runs: Array<{ name: string; load: DayLoad }> = [
    { name: 'before (current crontabs)', load: simulateDay(before.entries, { day: when.day, tz: when.tz, from, model }) },
  ];
  let skipped: string[] = [];
  if (job) {
    const { previous } = previousOf(job, readable);
    const plan = planJob(job, sel.targets.map((t) => ({ host: t.name, address: t.address })), { previous, fresh: f.fresh });
    const after = entriesAfter(job, plan, readable);
    skipped = after.skipped;
    runs.push({ name: `after (plan ${job.job})`, load: simulateDay(after.entries, { day: when.day, tz: when.tz, from, model }) });
  }
  if (svgFile) writeFileSync(svgFile, pictureOf(runs, { guests: readable.length, label: when.label, tz: when.tz, from, model, cap: job ? f.cap : undefined }));
  if (f.json) {
    out(`${JSON.stringify({ guests: readable.length, day: when.label, tz: when.tz, from: clock(from), model, runs: runs.map((r) => ({ name: r.name, ...metrics(r.load), ...series(r.load) })) })}\n`);
  } else {
    printComparison(runs, { guests: readable.length, label: when.label, tz: when.tz, from, model });
    if (skipped.length > 0) {
      out(`\n${foldHosts(skipped)} (${skipped.length}): kept as they are in "after": their cron files are malformed, apply would refuse them\n`);
    }
    if (before.problems.length > 0) out(`${before.problems.length} malformed cron lines were left out (fleet cron analyze lists them)\n`);
    if (svgFile) out(`picture written to ${svgFile}\n`);
  }
  warnFailures(read.guests.map((g) => g.result), 'could not read the cron files of');
  if (read.summary.ok < sel.targets.length) setExitStatus(read.summary['hostkey-refused'] > 0 ? EXIT.hostKey : EXIT.someFailed);
}

/** Every guest's entries once the plan is applied to the files read (as apply would edit them). */
function entriesAfter(job: CronJob, plan: JobPlan, guests: readonly GuestCron[]): { entries: StartEntry[]; skipped: string[] } {
  const slotOf = new Map(plan.guests.map((g) => [g.host, g]));
  const entries: StartEntry[] = [];
  const skipped: string[] = [];
  for (const g of guests) {
    const files = new Map(g.files);
    try {
      for (const e of guestEdits(job, g.files, slotOf.get(g.host)!).edits) files.set(e.path, e.after);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      skipped.push(g.host);
    }
    entries.push(...cronEntries(g.host, [...files].map(([path, text]) => ({ path, text }))).entries);
  }
  return { entries, skipped };
}

function metrics(load: DayLoad) {
  const { sim } = load;
  return {
    startsPerDay: load.counts.reduce((a, b) => a + b, 0),
    peakStarts: load.peak,
    peakMinutes: load.peakMinutes,
    peakQueue: sim.peakQueue,
    queueMinutes: round(sim.queueMinutes),
    unresponsiveMinutes: round(sim.unresponsiveMinutes),
    longestJobMinutes: round(sim.longestJob),
    /** Minutes after `from`. */
    lastEndMinutes: round(sim.lastEnd),
    lastEnd: sim.jobs > 0 ? clockFromMidnight(load.from + sim.lastEnd) : null,
  };
}

const round = (n: number) => Math.round(n * 10) / 10;
const minutes = (n: number) => (n >= 90 ? `${Math.floor(n / 60)} h ${Math.round(n % 60)} min` : `${round(n)} min`);

function printComparison(
  runs: Array<{ name: string; load: DayLoad }>,
  o: { guests: number; label: string; tz: string; from: number; model: LoadModel },
): void {
  const m = o.model;
  out(`simulate: ${o.guests} guests, 24 hours from ${o.label} ${clock(o.from)} (${o.tz}); host model: capacity ${m.capacity}, daily job ${m.jobMinutes} min, ` +
    `thrash ${m.thrash}, run-crons with nothing due ${m.idleSeconds} s, daily scripts via run-crons at ${clock(m.dailyAt)}\n\n`);
  const cols = runs.map((r) => metrics(r.load));
  const row = (label: string, cell: (x: ReturnType<typeof metrics>) => string) => [label, ...cols.map(cell)];
  const rows = [
    row('job starts in the day', (x) => String(x.startsPerDay)),
    row('peak starts in one minute', (x) => (x.peakStarts === 0 ? '0' : `${x.peakStarts} at ${listTimes(x.peakMinutes, 2)}`)),
    row('peak eligible queue', (x) => String(x.peakQueue)),
    row('minutes with a queue', (x) => minutes(x.queueMinutes)),
    row('minutes unresponsive', (x) => minutes(x.unresponsiveMinutes)),
    row('longest job', (x) => minutes(x.longestJobMinutes)),
    row('last job ends', (x) => x.lastEnd ?? '-'),
  ];
  // Left-aligned columns read better for mixed text; pad by hand.
  const widths = [0, ...cols.map(() => 0)].map((_, i) => Math.max(...[['', ...runs.map((r) => r.name)], ...rows].map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('   ').trimEnd();
  out(`${line(['', ...runs.map((r) => r.name)])}\n${rows.map(line).join('\n')}\n`);
}

/** The per-minute figures behind the picture (index 0 = `from`): starts, and the largest eligible queue. */
function series(load: DayLoad) {
  return { counts: load.counts, queue: load.sim.queueSeries.slice(0, 1440) };
}

function pictureOf(
  runs: Array<{ name: string; load: DayLoad }>,
  o: { guests: number; label: string; tz: string; from: number; model: LoadModel; cap?: number },
): string {
  const m = o.model;
  return loadSvg({
    title: `cron load of ${o.guests} guests, 24 hours from ${o.label} ${clock(o.from)}`,
    subtitle: `host model: capacity ${m.capacity}, daily job ${m.jobMinutes} min, thrash ${m.thrash}, run-crons with nothing due ${m.idleSeconds} s`,
    from: o.from,
    tz: o.tz,
    cap: o.cap,
    runs: runs.map((r) => ({ name: r.name, starts: r.load.counts, queue: series(r.load).queue })),
  });
}
