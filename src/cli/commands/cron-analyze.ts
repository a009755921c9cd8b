// `fleet cron analyze [sel]`: collects every guest's cron files, expands each entry over one day and
// shows how many guests start jobs in each minute: the peak, when, which entries cause it, a chart.
import { writeFileSync } from 'node:fs';
import { exitCodeOf, summarize } from '../../executor/index.js';
import { foldHosts } from '../../inventory/index.js';
import { describeProblem, expandStarts, fleetCron, simulateDay, withProblems, type DayLoad, type DayStarts, type FleetCron } from '../../schedule/index.js';
import { setExitStatus } from '../exit.js';
import { resolveSelection, type SelectionFlags } from '../selection.js';
import { readAll, warnFailures } from './cron-guests.js';
import { dayFromFlags, svgFileFromFlags, type DayFlags, type SvgFlags } from './cron-options.js';
import { clock, foldedCell, hourChart, hourlyPeaks, listTimes, sparkline, table, topMinutes } from './cron-render.js';
import { loadSvg } from './cron-svg.js';

export interface AnalyzeFlags extends SelectionFlags, DayFlags, SvgFlags {
  sudo: boolean;
  fanout: number;
  cap?: number;
  top: number;
  json?: boolean;
}

const out = (s: string) => process.stdout.write(s);

export async function cronAnalyze(selection: string | undefined, f: AnalyzeFlags): Promise<void> {
  const when = dayFromFlags(f);
  const svgFile = svgFileFromFlags(f);
  const sel = await resolveSelection(selection, f);
  const t0 = Date.now();
  const read = await readAll(sel.targets, sel.session, { sudo: f.sudo, fanout: f.fanout, quiet: f.json });
  const fleet = fleetCron(read.guests);
  const day = expandStarts(fleet.entries, when.day, when.tz);
  // The eligible queue those starts cause under the host model's defaults (simulate takes its options).
  const load = simulateDay(fleet.entries, { day: when.day, tz: when.tz });
  const results = withProblems(read.guests.map((g) => g.result), fleet.problems);
  const summary = summarize(results, sel.targets.length, Date.now() - t0);
  const readable = read.guests.filter((g) => g.dump).length;
  if (svgFile) {
    writeFileSync(svgFile, loadSvg({
      title: `cron load of ${readable} guests on ${when.label}`,
      subtitle: `queue: the host model's defaults (capacity ${load.model.capacity}, daily job ${load.model.jobMinutes} min); fleet cron simulate takes others`,
      from: 0,
      tz: when.tz,
      cap: f.cap,
      runs: [{ name: 'current crontabs', starts: day.counts, queue: load.sim.queueSeries.slice(0, 1440) }],
    }));
  }
  if (f.json) {
    for (const g of read.guests) {
      const problems = fleet.problems.filter((p) => p.host === g.host);
      const r = results.find((x) => x.host === g.host)!;
      out(`${JSON.stringify({
        host: g.host, address: g.address, status: r.status, files: g.dump?.files.map((x) => x.path) ?? [],
        entries: fleet.entries.filter((e) => e.host === g.host).length, problems, unreadable: g.dump?.unreadable ?? [],
        ...(r.error ? { error: r.error } : {}),
      })}\n`);
    }
    out(`${JSON.stringify({ summary, analysis: analysisJson(day, load, when, f.top) })}\n`);
  } else {
    printAnalysis(day, fleet, { readable, label: when.label, tz: when.tz, top: f.top, cap: f.cap });
    warnFailures(read.guests.map((g) => g.result), 'could not read the cron files of');
    if (svgFile) out(`picture written to ${svgFile}\n`);
  }
  setExitStatus(exitCodeOf(summary));
}

function analysisJson(day: DayStarts, load: DayLoad, when: { label: string; tz: string }, top: number) {
  return {
    day: when.label,
    tz: when.tz,
    peak: day.peak,
    peakMinutes: day.peakMinutes,
    causes: day.causes.map((c) => ({ schedule: c.schedule, command: c.command, starts: c.starts, guests: c.hosts.length, hosts: foldHosts(c.hosts) })),
    topMinutes: topMinutes(day.counts, top).map((t) => ({ time: clock(t.minute), starts: t.starts })),
    hourlyPeaks: hourlyPeaks(day.counts),
    startsPerDay: day.counts.reduce((a, b) => a + b, 0),
    skipped: day.skipped.length,
    counts: day.counts,
    /** Under the host model's defaults: the largest eligible queue in each minute. */
    peakQueue: load.sim.peakQueue,
    queue: load.sim.queueSeries.slice(0, 1440),
  };
}

function printAnalysis(
  day: DayStarts,
  fleet: FleetCron,
  o: { readable: number; label: string; tz: string; top: number; cap?: number },
): void {
  const total = day.counts.reduce((a, b) => a + b, 0);
  out(`analyze: ${o.readable} guests, ${fleet.files} cron files, ${fleet.entries.length} entries; ` +
    `${total} job starts on ${o.label} (${o.tz})\n\n`);
  if (day.peak === 0) {
    out('no job starts on this day\n');
  } else {
    out(`peak: ${day.peak} guests start jobs in the same minute, ${day.peakMinutes.length === 1 ? 'once' : `${day.peakMinutes.length} times`}: ` +
      `${listTimes(day.peakMinutes)}\n`);
    if (o.cap !== undefined) out(`cap ${o.cap}: ${day.counts.filter((c) => c > o.cap!).length} minutes above it\n`);
    out('caused by:\n');
    const rows = day.causes.slice(0, 8).map((c) => [String(c.hosts.length), String(c.starts), c.schedule, truncate(c.command, 70)]);
    out(indent(table(['guests', 'starts in peak minutes', 'schedule', 'command'], rows)));
    if (day.causes.length > 8) out(`  ... and ${day.causes.length - 8} more entries\n`);
    out(`\nbusiest minutes: ${topMinutes(day.counts, o.top).map((t) => `${clock(t.minute)} (${t.starts})`).join(', ')}\n`);
    out(`peak per hour 00-23: ${sparkline(hourlyPeaks(day.counts))}\n\n`);
    out(hourChart(day.counts, 40, o.cap));
  }
  if (day.skipped.length > 0) out(`\n${day.skipped.length} @reboot entries have no time of day (not counted)\n`);
  if (fleet.problems.length > 0) {
    out(`\nmalformed cron lines (cron skips such lines or even the whole file; fix them on the guest):\n`);
    for (const p of fleet.problems.slice(0, 20)) out(`  ${describeProblem(p)}\n`);
    if (fleet.problems.length > 20) out(`  ... and ${fleet.problems.length - 20} more\n`);
  }
  for (const [path, hosts] of fleet.unreadable) {
    out(`\ncannot read ${path} on ${foldedCell(hosts)} (${hosts.length}): not counted; user crontabs need sudo (the default)\n`);
  }
}

const truncate = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 3)}...`);
const indent = (s: string) => s.split('\n').map((l) => (l ? `  ${l}` : l)).join('\n');
