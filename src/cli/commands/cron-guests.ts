// Reading guests' cron files for `fleet cron`: one pinned session per guest runs the read-only dump
// script (under `sudo -n` unless --no-sudo); results follow the executor's result model.
import { InputError, UsageError } from '../../core/index.js';
import {
  fanout, summarize, withConnection, wrapSudo,
  type FleetSummary, type GuestTarget, type HostResult, type SessionOptions,
} from '../../executor/index.js';
import { foldHosts, loadInventory, select } from '../../inventory/index.js';
import {
  cronEntries, describeProblem, DUMP_SCRIPT, dumpScript, jobPath, parseDump, readPrevious, slotGeometry,
  type CronDump, type CronJob, type CronProblem, type PreviousJob, type StartEntry,
} from '../../schedule/index.js';
import { interruptible } from '../interrupt.js';
import { progressDisplay } from '../render.js';
import { resolveSelection, type ResolvedSelection, type SelectionFlags } from '../selection.js';

export interface GuestCron {
  host: string;
  address: string;
  /** How reading went; stdout is left empty (the dump is parsed into `dump`). */
  result: HostResult;
  dump?: CronDump;
  /** path -> text of every file read. */
  files: Map<string, string>;
}

export interface ReadOptions {
  sudo: boolean;
  fanout: number;
  /** Only these files (a job's own files); default every cron file. */
  paths?: readonly string[];
  /** No progress line (JSON output, or a phase inside a larger command). */
  quiet?: boolean;
}

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

/** Reads /etc/crontab, /etc/cron.d/* and the user spools (or just `paths`) of every target. */
export async function readCronFiles(
  targets: GuestTarget[],
  session: SessionOptions,
  o: ReadOptions,
): Promise<{ guests: GuestCron[]; summary: FleetSummary }> {
  const dumps = new Map<string, CronDump>();
  const progress = o.quiet ? { onEvent: () => {}, finish: () => {} } : progressDisplay(targets.length);
  const t0 = Date.now();
  const script = o.paths ? dumpScript(o.paths) : DUMP_SCRIPT;
  const command = o.sudo ? wrapSudo(script) : script;
  const results = await interruptible((signal) =>
    fanout(
      targets,
      (t) =>
        withConnection(t, session, async (conn, started) => {
          const r = await conn.exec(command, { timeoutMs: session.timeoutMs });
          const base = {
            host: t.name, address: t.address, exitCode: r.exitCode, signal: r.signal, stdout: '',
            stderr: r.stderr.toString(), changed: false, durationMs: Date.now() - started,
          };
          if (r.timedOut) return { ...base, status: 'timeout', error: `${t.name}: reading cron files took over ${session.timeoutMs} ms; stopped` };
          if (r.exitCode !== 0) {
            const why = base.stderr.trim().split('\n')[0] || `exit status ${r.exitCode ?? r.signal}`;
            return { ...base, status: 'failed', error: `${t.name}: cannot read cron files: ${why}` };
          }
          try {
            dumps.set(t.name, parseDump(r.stdout.toString(), t.name));
          } catch (err) {
            return { ...base, status: 'failed', error: (err as Error).message };
          }
          return { ...base, status: 'ok' };
        }),
      { fanout: o.fanout, onEvent: progress.onEvent, signal },
    ),
  );
  progress.finish();
  const byHost = new Map(results.map((r) => [r.host, r]));
  const guests = targets.flatMap((t) => {
    const result = byHost.get(t.name);
    if (!result) return [];
    const dump = dumps.get(t.name);
    const files = new Map((dump?.files ?? []).map((f) => [f.path, f.text]));
    return [{ host: t.name, address: t.address, result, ...(dump ? { dump } : {}), files }];
  });
  return { guests, summary: summarize(results, targets.length, Date.now() - t0) };
}

/** One stderr warning per failure reason, hosts folded: "could not read ...: guest[3-5] (3) unreachable, e.g. ...". */
export function warnFailures(results: readonly HostResult[], what: string): void {
  const byReason = new Map<string, HostResult[]>();
  for (const r of results) if (r.status !== 'ok') byReason.set(r.status, [...(byReason.get(r.status) ?? []), r]);
  for (const [reason, rs] of byReason) {
    process.stderr.write(`fleet: warning: ${what}: ${foldHosts(rs.map((r) => r.host))} (${rs.length}) ${reason}, e.g. ${rs[0]!.error ?? ''}\n`);
  }
}

/**
 * What each readable guest carries for the job now. A guest whose files are malformed gets no
 * previous slot and a problem naming host, file and line.
 */
export function previousOf(
  job: CronJob,
  guests: readonly GuestCron[],
): { previous: Map<string, PreviousJob>; problems: Map<string, string> } {
  const geo = job.timing.kind === 'window' ? slotGeometry(job.timing.window, job.timing.slotMinutes) : undefined;
  const previous = new Map<string, PreviousJob>();
  const problems = new Map<string, string>();
  for (const g of guests) {
    if (g.result.status !== 'ok') continue;
    try {
      const p = readPrevious(job, g.files, geo);
      if (p) previous.set(g.host, p);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      problems.set(g.host, `${g.host}: ${err.message}`);
    }
  }
  return { previous, problems };
}

export interface FleetCron {
  entries: StartEntry[];
  /** Malformed lines, with host, file and line. */
  problems: CronProblem[];
  /** Unreadable path -> hosts where it could not be read. */
  unreadable: Map<string, string[]>;
  files: number;
}

/** Every schedule entry of the guests that could be read, and every problem found on the way. */
export function fleetCron(guests: readonly GuestCron[]): FleetCron {
  const all: FleetCron = { entries: [], problems: [], unreadable: new Map(), files: 0 };
  for (const g of guests) {
    if (!g.dump) continue;
    const { entries, problems } = cronEntries(g.host, g.dump.files);
    all.entries.push(...entries);
    all.problems.push(...problems);
    all.files += g.dump.files.length;
    for (const path of g.dump.unreadable) all.unreadable.set(path, [...(all.unreadable.get(path) ?? []), g.host]);
  }
  return all;
}

/** Marks guests with malformed cron files as failed, naming the first problem (host, file, line). */
export function withProblems(results: readonly HostResult[], problems: readonly CronProblem[]): HostResult[] {
  const first = new Map<string, { p: CronProblem; n: number }>();
  for (const p of problems) first.set(p.host, { p: first.get(p.host)?.p ?? p, n: (first.get(p.host)?.n ?? 0) + 1 });
  return results.map((r) => {
    const f = first.get(r.host);
    if (!f || r.status !== 'ok') return r;
    const more = f.n > 1 ? ` (and ${f.n - 1} more)` : '';
    return { ...r, status: 'failed' as const, error: `${describeProblem(f.p)}${more}` };
  });
}

/** The files a job's block may live in: its own place first, then the other. */
export function jobPaths(job: CronJob): string[] {
  return [jobPath(job), jobPath({ job: job.job, place: job.place === 'cron.d' ? 'crontab' : 'cron.d' })];
}
