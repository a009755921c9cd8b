// Reading guests' cron files: one pinned session per guest runs the read-only dump script (under
// `sudo -n` unless told otherwise), or one command on a connection already open. Results follow
// the executor's result model; what was read is parsed into files, previous slots and entries.
import { InputError } from '../core/errors.js';
import {
  fanout, StepError, summarize, withConnection, wrapSudo,
  type FleetEvent, type FleetSummary, type GuestTarget, type HostResult, type SessionOptions,
} from '../executor/index.js';
import type { SshConnection } from '../ssh/index.js';
import { cronEntries, describeProblem, DUMP_SCRIPT, dumpScript, parseDump, type CronDump, type CronProblem } from './cronfiles.js';
import { readPrevious } from './edits.js';
import { jobPath, type CronJob, type PreviousJob } from './job.js';
import type { StartEntry } from './starts.js';
import { slotGeometry } from './window.js';

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
  onEvent?: (e: FleetEvent) => void;
  /** Once aborted, no new guest is read; the summary counts them as not run. */
  signal?: AbortSignal;
}

/** Reads /etc/crontab, /etc/cron.d/* and the user spools (or just `paths`) of every target. */
export async function readCronFiles(
  targets: GuestTarget[],
  session: SessionOptions,
  o: ReadOptions,
): Promise<{ guests: GuestCron[]; summary: FleetSummary }> {
  const dumps = new Map<string, CronDump>();
  const t0 = Date.now();
  const script = o.paths ? dumpScript(o.paths) : DUMP_SCRIPT;
  const command = o.sudo ? wrapSudo(script) : script;
  const results = await fanout(
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
    { fanout: o.fanout, onEvent: o.onEvent, signal: o.signal },
  );
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

/** The files a job's block may live in: its own place first, then the other. */
export function jobPaths(job: CronJob): string[] {
  return [jobPath(job), jobPath({ job: job.job, place: job.place === 'cron.d' ? 'crontab' : 'cron.d' })];
}

/** Both places the job's block may be, read on an open connection (the dump format of readCronFiles). */
export async function readJobFiles(conn: SshConnection, job: CronJob, o: { sudo: boolean; timeoutMs?: number }): Promise<Map<string, string>> {
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
