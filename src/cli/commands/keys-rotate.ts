// `fleet keys rotate [sel]` and `fleet keys status`: journaled rotation and where it stands.
import { EXIT } from '../../core/index.js';
import { countOutcomes, rotateFleet, rotationStatus, type GuestRotation, type RotatePlan } from '../../hostkeys/index.js';
import { foldHosts } from '../../inventory/index.js';
import { fingerprintSha256, type ProbeType } from '../../ssh/index.js';
import { setExitStatus } from '../exit.js';
import { interruptible } from '../interrupt.js';
import { progressDisplay } from '../render.js';
import { recordLeftUndone } from '../rerun.js';
import { loadInventory, select } from '../../inventory/index.js';
import { resolveSelection, resolveSession, type SelectionFlags } from '../selection.js';
import { confirm, describeGroups, out, resolveHosts } from './keys-common.js';

export interface RotateFlags extends SelectionFlags {
  fanout: number;
  clonedOnly?: boolean;
  types?: ProbeType[];
  resume?: boolean;
  restartCommand?: string;
  confirmWith?: string;
  console?: string;
  revoke: boolean;
  journal?: string;
  batch?: string;
  maxFail?: string;
  yes?: boolean;
  json?: boolean;
}

const journalOf = (f: { journal?: string }, knownHostsPath: string) => f.journal ?? `${knownHostsPath}.rotate.jsonl`;

export async function rotate(selection: string | undefined, f: RotateFlags): Promise<void> {
  const { targets: chosen, session, knownHostsPath } = await resolveSelection(selection, f);
  // The confirmation command gets each guest's inventory variables in its environment.
  const vars = f.confirmWith || f.console ? new Map(select(await loadInventory(f.inventory), selection ?? f.limit ?? 'all').map((h) => [h.name, h.vars])) : undefined;
  const targets = chosen.map((t) => ({ ...t, ...(vars?.get(t.name) ? { vars: vars.get(t.name) } : {}) }));
  const progress = f.json ? { onEvent: () => {}, finish: () => {} } : progressDisplay(targets.length);
  const askFirst = async (plan: RotatePlan): Promise<boolean> => {
    const cloned = plan.scans.filter((s) => s.cloneGroup !== null).length;
    if (!f.json) {
      if (plan.groups.length > 0) out(`Clone groups:\n${describeGroups(plan.groups)}`);
      const down = plan.unreachable ?? [];
      const reached = plan.scans.length - plan.scans.filter((s) => s.status === 'unreachable').length;
      out(`Rotating the host keys of ${plan.targets.length} guests (${cloned} of the ${reached} reached share keys); ` +
        `key types afterwards: ${plan.types?.join(', ') ?? 'the ones each has now'}.\n`);
      if (down.length > 0) out(`Unreachable, not rotated (${down.length}): ${foldHosts(down)}\n`);
    }
    return confirm(`Rotate the host keys of ${plan.targets.length} guests?`, f.yes);
  };
  const report = await interruptible((signal) =>
    rotateFleet({
      targets,
      knownHostsPath,
      journalPath: journalOf(f, knownHostsPath),
      credentials: session.credentials,
      identities: session.identities,
      connectTimeoutMs: session.connectTimeoutMs,
      commandTimeoutMs: session.timeoutMs ?? 120_000,
      fanout: f.fanout,
      types: f.types ?? null,
      clonedOnly: !!f.clonedOnly,
      restartCommand: f.restartCommand ?? null,
      confirmWith: f.confirmWith ?? null,
      console: f.console ?? null,
      revoke: f.revoke,
      resume: !!f.resume,
      ...(f.batch !== undefined ? { batch: f.batch } : {}),
      ...(f.maxFail !== undefined ? { maxFail: f.maxFail } : {}),
      signal,
      onEvent: progress.onEvent,
      confirm: askFirst,
    }),
  );
  progress.finish();
  if (report.nothingToDo || report.cancelled) {
    // No clone among the guests reached: the guests it could not judge are the ones left to do.
    const left = report.nothingToDo && !f.resume ? recordLeftUndone('keys rotate', f.inventory, report.unreachable.map((u) => u.host), []) : undefined;
    if (!f.json) out(`${report.nothingToDo ?? 'Nothing rotated.'}\n${left?.lines ?? ''}`);
    else out(`${JSON.stringify({ summary: { total: 0, ...(report.nothingToDo ? { note: report.nothingToDo } : { cancelled: true }), ...left?.summary } })}\n`);
    return;
  }
  const all = [...report.reconciled, ...report.results];
  const latest = new Map(all.map((r) => [r.host, r]));
  const counts = countOutcomes([...latest.values()]);
  const revoked = report.revoked.map((k) => `${k.keyType} ${fingerprintSha256(k.key)}`);
  // Not done (rolled back, skipped, pending, unreachable) and not started: what `-l @failed` selects next.
  const order = new Map(targets.map((t, i) => [t.name, i]));
  const failed = [...new Set([...[...latest.values()].filter((r) => r.outcome !== 'done').map((r) => r.host), ...report.unreachable.map((u) => u.host)])]
    .sort((a, b) => (order.get(a) ?? Infinity) - (order.get(b) ?? Infinity));
  const left = recordLeftUndone('keys rotate', f.inventory, failed, report.notStarted, {
    // An unfinished run is carried on by --resume; a new run (which -l @failed would start) waits for it.
    retry: report.ended ? undefined : (n, file) => `the ${n} that did not succeed are listed in ${file} (-l @failed) once the run is finished`,
  });
  const summary = {
    run: report.run, resumed: report.resumed, ...counts, total: latest.size, ended: report.ended, confirmed: !report.unconfirmed,
    revoked, unreachable: report.unreachable.map((u) => u.host), notStarted: report.notStarted,
    ...(report.stopped ? { stopped: report.stopped } : {}), ...(left.summary.rerunFile ? { rerunFile: left.summary.rerunFile } : {}), durationMs: report.durationMs,
  };
  if (f.json) {
    for (const r of all) out(`${JSON.stringify(jsonOf(r))}\n`);
    out(`${JSON.stringify({ summary })}\n`);
  } else {
    printRotation(report.reconciled, report.results);
    if (report.unreachable.length > 0) {
      out(`\nunreachable, not rotated (${report.unreachable.length}):\n${foldErrors(report.unreachable)}`);
    }
    if (report.stopped) out(`\nstopped: ${report.stopped}\n`);
    if (report.notStarted.length > 0) out(`not started (${report.notStarted.length}): ${foldHosts(report.notStarted)}\n`);
    const parts = (Object.keys(counts) as (keyof typeof counts)[]).filter((k) => counts[k] > 0).map((k) => `${counts[k]} ${k}`);
    out(`\nrotate: ${parts.join(', ') || 'nothing'} of ${summary.total} in ${(report.durationMs / 1000).toFixed(1)} s (run ${report.run})\n`);
    if (!report.ended) out('The run is not finished: `fleet keys rotate --resume` carries it on (`fleet keys status` shows each guest).\n');
    out(left.retryLine); // the guests not started are named above, with the reason
    for (const r of revoked) out(`revoked the cloned key ${r}: nothing pins it any more; any host presenting it is refused from now on\n`);
    for (const k of report.keptShared) {
      out(`not revoked: the cloned key ${k.key.keyType} ${fingerprintSha256(k.key.key)} is still pinned by ${k.pins} known_hosts line${k.pins === 1 ? '' : 's'} (guests not rotated yet)\n`);
    }
    if (report.unconfirmed) {
      out('\nNote: the new keys were learned over SSH sessions authenticated by each guest\'s current key. For cloned guests that\n' +
        'is the golden image\'s key: whoever holds the image could have sat in the middle and handed over keys of their own.\n' +
        'Confirm new keys through another channel with --confirm-with CMD (a hypervisor console, a guest agent).\n');
    }
  }
  const allDone = report.ended && counts.done === summary.total && report.unreachable.length === 0;
  setExitStatus(allDone ? EXIT.ok : EXIT.someFailed);
}

function jsonOf(r: GuestRotation) {
  return {
    host: r.host, address: r.address, outcome: r.outcome,
    ...(r.failedStep && r.outcome !== 'done' ? { step: r.failedStep } : {}),
    keys: (r.outcome === 'done' ? r.newKeys : r.oldKeys).map((k) => ({ type: k.keyType, fingerprint: fingerprintSha256(k.key) })),
    ...(r.error && r.outcome !== 'done' ? { error: r.error } : {}),
    ...(r.warnings.length ? { warnings: r.warnings } : {}),
    durationMs: r.durationMs,
  };
}

function printRotation(reconciled: GuestRotation[], results: GuestRotation[]): void {
  if (reconciled.length > 0) {
    out(`Reconciled ${reconciled.length} guests the interrupted run left mid-way:\n`);
    for (const r of reconciled) out(`  ${r.host.padEnd(12)} ${r.outcome === 'done' ? 'finished' : r.outcome}${r.outcome === 'done' ? '' : `: ${r.error}`}\n`);
  }
  const done = results.filter((r) => r.outcome === 'done').map((r) => r.host);
  if (done.length > 0) out(`new keys, pinned: ${foldHosts(done)} (${done.length})\n`);
  for (const kind of ['rolled-back', 'skipped', 'pending'] as const) {
    const rs = results.filter((r) => r.outcome === kind);
    if (rs.length === 0) continue;
    out(`\n${kind} (${rs.length}):\n${foldErrors(rs.map((r) => ({ host: r.host, address: r.address, error: r.error ?? '' })))}`);
  }
  const warnings = [...reconciled, ...results].flatMap((r) => r.warnings);
  if (warnings.length > 0) out(`\nwarnings:\n${warnings.map((w) => `  ${w}\n`).join('')}`);
}

/**
 * Guests failing alike as one line: the error as the first of them got it, its name and address
 * written as the folded list (`guest[001-300] (300): ...`), so 300 identical failures read as one.
 */
function foldErrors(rs: { host: string; address: string; error: string }[]): string {
  const groups = new Map<string, { hosts: string[]; first: { host: string; address: string; error: string } }>();
  for (const r of rs) {
    const bare = r.error.startsWith(`${r.host}: `) ? r.error.slice(r.host.length + 2) : r.error;
    const key = bare.split(r.host).join('\0').split(r.address).join('\u0001');
    const g = groups.get(key) ?? { hosts: [], first: { ...r, error: bare } };
    g.hosts.push(r.host);
    groups.set(key, g);
  }
  return [...groups.values()]
    .map((g) => (g.hosts.length === 1 ? `  ${g.first.host}: ${g.first.error}\n` : `  ${foldHosts(g.hosts)} (${g.hosts.length}): ${g.first.error.split(g.first.address).join('<address>').split(g.first.host).join('<guest>')}\n`))
    .join('');
}

export async function status(selection: string | undefined, f: SelectionFlags & { fanout: number; journal?: string; json?: boolean }): Promise<void> {
  const { targets, knownHostsPath, knownHosts } = await resolveHosts(selection, f);
  const path = journalOf(f, knownHostsPath);
  // The login on jump hosts only when a guest to probe is behind one (probing itself logs into nothing).
  const session = () => resolveSession(f, targets, knownHosts);
  const st = await rotationStatus(path, { timeoutMs: f.connectTimeout * 1000, fanout: f.fanout, knownHostsPath, session });
  const count = (s: string) => st.rows.filter((r) => r.state === s).length;
  const summary = {
    journal: path, run: st.run?.id ?? null, startedAt: st.run?.startedAt ?? null, ended: st.ended,
    done: count('done'), rolledBack: count('rolled-back'), skipped: count('skipped'), inProgress: count('in-progress'), notStarted: count('not-started'),
    total: st.rows.length,
  };
  if (f.json) {
    for (const r of st.rows) out(`${JSON.stringify(r)}\n`);
    out(`${JSON.stringify({ summary })}\n`);
  } else if (!st.run) {
    out(`No rotation in ${path}.\n`);
  } else {
    out(`Run ${st.run.id}, started ${st.run.startedAt}, ${st.run.guests} guests, key types ${st.run.types?.join(',') ?? 'as found'}` +
      `${st.run.resumes ? `, resumed ${st.run.resumes}x` : ''}: ${st.ended ? 'finished' : 'NOT FINISHED'}\n`);
    const done = st.rows.filter((r) => r.state === 'done').map((r) => r.host);
    if (done.length) out(`  done: ${foldHosts(done)} (${done.length})\n`);
    for (const r of st.rows.filter((x) => x.state !== 'done')) {
      const now = r.state === 'in-progress' ? ` at step '${r.step}', presents ${r.presents} keys` : '';
      out(`  ${r.host.padEnd(12)} ${r.state}${now}${r.next ? ` -> --resume will ${r.next}` : ''}${r.error ? `\n               ${r.error}` : ''}\n`);
    }
  }
  if (!st.ended) setExitStatus(EXIT.someFailed);
}
