// `keys rotate` over a selection: scan, pick (all, or only cloned guests), journal the run, rotate
// each guest with the executor's fan-out; with `resume`, first reconcile every guest the journal
// shows cut short, then carry on with the run's guests that are not done. Guests behind jump hosts or
// a ProxyCommand are reached that way at every step, every hop pinned; guests behind a jump host that
// is rotated too go first (hopWaves).
import { randomBytes } from 'node:crypto';
import { fanout, type FleetEvent, type HostResult } from '../executor/index.js';
import { FleetError } from '../core/index.js';
import { loadKnownHosts, type Credentials, type KnownHosts, type ProbeType } from '../ssh/index.js';
import type { GuestRotation, RotateContext, RotateTarget, RotationOutcome } from './guest-ops.js';
import { fromText, Journal, readJournal, replay, routeChanges, targetRecord, toText, unsettled, type RunJournal, type StepName } from './journal.js';
import { hopPins, hopWaves } from './hop-order.js';
import type { KeyRef } from './pins.js';
import { retireSharedKeys } from './revoke.js';
import { KnownHostsWriter } from './kh-writer.js';
import { reconcileGuest } from './reconcile.js';
import { lockRotation } from './rotation-lock.js';
import { rotateGuest, typePlan } from './rotate-guest.js';
import { ConfirmationError, precheckConfirm } from './confirm.js';
import { SameFailureStop } from './early-stop.js';
import { rotateOverConsole } from './console-rotate.js';
import { scanFleet, type CloneGroup, type GuestScan } from './scan.js';

export interface RotatePlan {
  /** Guests that will be rotated. */
  targets: RotateTarget[];
  scans: GuestScan[];
  groups: CloneGroup[];
  types: ProbeType[] | null;
  /** Selected guests the scan could not reach that are not among the targets (--cloned-only). */
  unreachable?: string[];
}

export interface RotateFleetOptions {
  targets: RotateTarget[];
  knownHostsPath: string;
  journalPath: string;
  credentials: Omit<Credentials, 'username'>;
  /** Private keys read from the targets' and their jump hosts' identity files, by path. */
  identities?: ReadonlyMap<string, Buffer>;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  fanout: number;
  types: ProbeType[] | null;
  clonedOnly: boolean;
  restartCommand: string | null;
  /** See RotateContext.confirmWith. */
  confirmWith: string | null;
  /**
   * A console (see RotateContext.console): guests presenting a revoked key get new keys through it
   * instead of being skipped.
   */
  console?: string | null;
  /** Mark the clone groups' shared keys @revoked once nothing pins them (default true). */
  revoke?: boolean;
  resume: boolean;
  /** Rotate in rolling batches (`10`, `25%`); default one batch. */
  batch?: string;
  /**
   * Start no further batch once more than this many guests (`5`, `10%`) failed. Without it, the run
   * stops as soon as the first guests to finish all failed the same way (see SameFailureStop).
   */
  maxFail?: string;
  signal?: AbortSignal;
  onEvent?: (e: FleetEvent) => void;
  onStep?: (host: string, step: StepName) => void | Promise<void>;
  /** Asked once, before anything changes, with what a new run would do; false cancels. */
  confirm?: (plan: RotatePlan) => Promise<boolean>;
}

export interface RotateReport {
  run?: string;
  /** A new run was declined at the confirmation, or there was nothing to do. */
  cancelled: boolean;
  nothingToDo?: string;
  resumed: boolean;
  /** Guests a resume found cut short, and what became of them. */
  reconciled: GuestRotation[];
  results: GuestRotation[];
  /** Every guest of the run is done, rolled back or skipped: a new run may start. */
  ended: boolean;
  /** Shared (cloned) keys marked @revoked by this invocation, and those still pinned somewhere. */
  revoked: KeyRef[];
  keptShared: { key: KeyRef; pins: number }[];
  /** New keys were learned over SSH only (no --confirm-with). */
  unconfirmed: boolean;
  /** Selected guests the scan could not reach and that were not rotated (with --cloned-only: not judged either). */
  unreachable: { host: string; address: string; error: string }[];
  /** Why the run stopped before starting every guest (the failure budget, the same failure), and who was not started. */
  stopped?: string;
  notStarted: string[];
  durationMs: number;
}

export function newRunId(): string {
  return `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(3).toString('hex')}`;
}

function asHostResult(r: GuestRotation): HostResult {
  const status = r.outcome === 'done' ? 'ok' : 'failed';
  return { host: r.host, address: r.address, status, exitCode: null, stdout: '', stderr: '', changed: r.outcome !== 'skipped', durationMs: r.durationMs, ...(r.error ? { error: r.error } : {}) };
}

export async function rotateFleet(o: RotateFleetOptions): Promise<RotateReport> {
  const t0 = Date.now();
  const rotation = await lockRotation(o.knownHostsPath);
  const journal = await Journal.open(o.journalPath).catch(async (err) => {
    await rotation.release();
    throw err;
  });
  try {
    const previous = replay(await readJournal(o.journalPath));
    const open = previous && !previous.ended ? previous : undefined;
    const report: RotateReport = { cancelled: false, resumed: !!open, reconciled: [], results: [], ended: false, revoked: [], keptShared: [], unconfirmed: false, unreachable: [], notStarted: [], durationMs: 0 };
    if (open && !o.resume) {
      throw new FleetError(
        `the rotation started ${open.run.at} (run ${open.run.run}, ${open.run.targets.length} guests) was interrupted: ` +
          'finish it first with `fleet keys rotate --resume` (`fleet keys status` shows where each guest stands)',
      );
    }
    if (!open && o.resume) return { ...report, nothingToDo: 'no interrupted rotation in the journal: nothing to resume', durationMs: Date.now() - t0 };
    const writer = new KnownHostsWriter(o.knownHostsPath);
    let run: string;
    let targets: RotateTarget[];
    let types = o.types;
    let restartCommand = o.restartCommand;
    let confirmWith = o.confirmWith;
    const session = { credentials: o.credentials, identities: o.identities };
    const scanOpts = async (ts: RotateTarget[]) => ({ fanout: o.fanout, timeoutMs: o.connectTimeoutMs, signal: o.signal, session, hopPins: await hopPins(o.knownHostsPath, ts) });
    let scans: GuestScan[] | undefined;
    if (open) {
      // A resume goes where the run went (the journal's address, port and route): a guest the
      // selection now reaches another way could be another machine under the same private address.
      const moved = routeChanges(open.run.targets.filter((t) => open.hosts.get(t.name)?.end?.outcome !== 'done'), o.targets);
      if (moved.length > 0) {
        throw new FleetError(
          `cannot resume the rotation ${open.run.run}: ${moved.length} of its guests ${moved.length === 1 ? 'is' : 'are'} no longer reached the way the run reached ${moved.length === 1 ? 'it' : 'them'}, ` +
            `and a resume must act on the same machines:\n${moved.slice(0, 10).map((m) => `  ${m.host}: the run went to ${m.was}; the selection now says ${m.now}\n`).join('')}` +
            `${moved.length > 10 ? `  ... and ${moved.length - 10} more\n` : ''}` +
            'Put the address or route back (inventory, ssh_config, --jump) until the run is finished; nothing was changed',
        );
      }
      run = open.run.run;
      types = (open.run.types as ProbeType[] | null) ?? null;
      restartCommand = open.run.restart;
      confirmWith = open.run.confirmWith ?? null;
      await journal.append({ type: 'resume', run, at: new Date().toISOString() });
      const byName = new Map(open.run.targets.map((t) => [t.name, t]));
      // Every guest left mid-way, never batched; guests behind a jump host before the jump host.
      for (const wave of hopWaves(unsettled(open).map((h) => ({ ...byName.get(h.host)!, h })))) {
        if (o.signal?.aborted) break;
        const ctx = context(o, journal, writer, run, types, restartCommand, confirmWith, await hopPins(o.knownHostsPath, wave));
        report.reconciled.push(...(await fanoutRotations(wave, (t) => reconcileGuest(t, ctx, t.h), { fanout: o.fanout, onEvent: o.onEvent, signal: o.signal })));
      }
      const settledNow = new Map(report.reconciled.map((g) => [g.host, g.outcome]));
      targets = open.run.targets.filter((t) => {
        const now = settledNow.get(t.name) ?? open.hosts.get(t.name)?.end?.outcome;
        return now !== 'done' && now !== 'pending';
      });
    } else {
      const all = await scanFleet(o.targets, await loadKnownHosts(o.knownHostsPath), await scanOpts(o.targets));
      scans = all.scans;
      targets = o.clonedOnly ? o.targets.filter((t) => all.scans.find((s) => s.host === t.name)?.cloneGroup != null) : o.targets;
      // With --cloned-only an unreachable guest is no target (nobody knows if it is a clone): say so.
      const chosenNow = new Set(targets.map((t) => t.name));
      report.unreachable = all.scans
        .filter((s) => s.status === 'unreachable' && !chosenNow.has(s.host))
        .map((s) => ({ host: s.host, address: s.address, error: s.error ?? 'unreachable' }));
      if (targets.length === 0) return { ...report, nothingToDo: 'no guest shares a host key with another: nothing to rotate', durationMs: Date.now() - t0 };
      if (confirmWith) await tryConfirmation(confirmWith, targets, all.scans, types, o);
      if (o.confirm && !(await o.confirm({ targets, scans: all.scans, groups: all.groups, types, unreachable: report.unreachable.map((u) => u.host) }))) {
        return { ...report, cancelled: true, durationMs: Date.now() - t0 };
      }
      run = newRunId();
      const chosen = new Set(targets.map((t) => t.name));
      const shared = all.groups.filter((g) => g.hosts.some((h) => chosen.has(h))).flatMap((g) => g.keys.map((k) => ({ keyType: k.keyType, key: k.key })));
      await journal.append({ type: 'run', run, at: new Date().toISOString(), types, restart: restartCommand, targets: targets.map(targetRecord), confirmWith, shared: shared.map(toText) });
    }
    report.run = run;
    if (targets.length > 0 && !o.signal?.aborted) {
      const known = await loadKnownHosts(o.knownHostsPath);
      if (!scans || open) scans = (await scanFleet(targets, known, await scanOpts(targets))).scans;
      const scanOf = new Map(scans.map((s) => [s.host, s]));
      const rotating = targets.filter((t) => scanOf.has(t.name));
      const same = o.maxFail === undefined ? new SameFailureStop() : undefined;
      const stop = new AbortController();
      const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
      for (const wave of hopWaves(rotating)) {
        if (signal.aborted) break;
        // Read per wave: a jump host rotated in the wave before is pinned to its new keys by now.
        const ctx = context(o, journal, writer, run, types, restartCommand, confirmWith, await hopPins(o.knownHostsPath, wave));
        const results = await fanoutRotations(
          wave,
          async (t) => {
            const scan = scanOf.get(t.name)!;
            const attempt = (open?.hosts.get(t.name)?.attempts ?? 0) + 1;
            const r = scan.status === 'revoked' && o.console
              ? await rotateOverConsole(t, ctx, o.console, scan, attempt)
              : await rotateGuest(t, ctx, scan, known, attempt);
            if (same?.saw(r)) stop.abort();
            return r;
          },
          { ...o, signal, batch: o.batch, maxFail: o.maxFail },
        );
        report.results.push(...results);
        if (results.length < wave.length) break; // stopped inside the wave: the jump hosts after it wait too
      }
      const started = new Set(report.results.map((r) => r.host));
      report.notStarted = rotating.filter((t) => !started.has(t.name)).map((t) => t.name);
      if (report.notStarted.length > 0 && !o.signal?.aborted) {
        const failed = report.results.filter((r) => r.outcome !== 'done').length;
        report.stopped = same?.reason ?? `${failed} guests failed, more than --max-fail ${o.maxFail} allows; no further batch was started`;
      }
    }
    const records = await readJournal(o.journalPath);
    const state = replay(records)!;
    report.ended = runSettled(state);
    // Every key any run found cloned (the journal remembers), so rotating the last guests of a clone
    // group in a later, smaller run still retires the golden key.
    const everShared = new Map<string, KeyRef>();
    for (const r of records) if (r.type === 'run') for (const k of r.shared ?? []) everShared.set(k.key, fromText(k));
    if (o.revoke !== false && everShared.size > 0) {
      const retired = await retireSharedKeys(writer, [...everShared.values()]);
      report.revoked = retired.revoked;
      report.keptShared = retired.kept;
    }
    report.unconfirmed = !confirmWith && [...report.results, ...report.reconciled].some((r) => r.outcome === 'done');
    if (report.ended) await journal.append({ type: 'run-end', run, at: new Date().toISOString() });
    report.durationMs = Date.now() - t0;
    return report;
  } finally {
    await journal.close().finally(() => rotation.release());
  }
}

/** --confirm-with on the first guest that will rotate, before the run exists: a command that cannot confirm stops it here. */
async function tryConfirmation(command: string, targets: RotateTarget[], scans: GuestScan[], types: ProbeType[] | null, o: RotateFleetOptions): Promise<void> {
  const byName = new Map(scans.map((s) => [s.host, s]));
  const first = targets.find((t) => byName.get(t.name)?.status === 'pinned');
  if (!first) return; // no guest will rotate: nothing to confirm
  const scan = byName.get(first.name)!;
  const c = await precheckConfirm(command, first, scan.keys, typePlan(scan, types).keep, { timeoutMs: o.commandTimeoutMs });
  if (!c.ok) throw new ConfirmationError(c.message);
}

/** Every target's latest attempt ended (done, rolled back or skipped). */
export function runSettled(state: RunJournal): boolean {
  return state.run.targets.every((t) => state.hosts.get(t.name)?.end !== undefined);
}

function context(
  o: RotateFleetOptions, journal: Journal, writer: KnownHostsWriter, run: string, types: ProbeType[] | null, restartCommand: string | null, confirmWith: string | null,
  pins: KnownHosts | undefined,
): RotateContext {
  return {
    run, journal, writer, types, restartCommand, confirmWith,
    credentials: o.credentials,
    identities: o.identities,
    ...(pins ? { hopPins: pins } : {}),
    connectTimeoutMs: o.connectTimeoutMs,
    commandTimeoutMs: o.commandTimeoutMs,
    onStep: o.onStep,
    console: o.console ?? null,
  };
}

async function fanoutRotations<T extends RotateTarget>(
  targets: T[],
  task: (t: T) => Promise<GuestRotation>,
  o: Pick<RotateFleetOptions, 'fanout' | 'onEvent' | 'signal' | 'batch' | 'maxFail'>,
): Promise<GuestRotation[]> {
  const out = new Map<string, GuestRotation>();
  await fanout(
    targets,
    async (t) => {
      const r = await task(t);
      out.set(t.name, r);
      return asHostResult(r);
    },
    { fanout: o.fanout, onEvent: o.onEvent, signal: o.signal, batch: o.batch, maxFail: o.maxFail },
  );
  return targets.map((t) => out.get(t.name)).filter((r): r is GuestRotation => r !== undefined);
}

export function countOutcomes(rs: GuestRotation[]): Record<RotationOutcome, number> {
  const c: Record<RotationOutcome, number> = { done: 0, 'rolled-back': 0, skipped: 0, pending: 0 };
  for (const r of rs) c[r.outcome]++;
  return c;
}
