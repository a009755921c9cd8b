// `fleet play [sel] <playbook.yaml>`: validate the whole playbook (and every variable for every
// selected guest) before connecting, then run its steps over one connection per guest.
import { UsageError } from '../../core/index.js';
import { backupSuffix, exitCodeOf, summarize } from '../../executor/index.js';
import { foldHosts, loadInventory } from '../../inventory/index.js';
import { checkVariables, formatIssue, guestScope, loadPlaybook, planCronSteps, plannedNames, playPhases, type PlaybookIssue, type PlayResult } from '../../playbook/index.js';
import { interruptible } from '../interrupt.js';
import { setExitStatus } from '../exit.js';
import { fanOutWithProgress, type FanOutFlags } from '../fan-out.js';
import { printJsonLines } from '../render.js';
import { resolveHosts, resolveSession, type SelectionFlags } from '../selection.js';
import { recordRun, type Stopped } from '../rerun.js';
import { printPlay, stepCounts } from './play-render.js';
import { retryOptions } from './run.js';

export interface PlayFlags extends SelectionFlags, FanOutFlags {
  sudo?: boolean;
  check?: boolean;
  extraVar?: string[];
  /** Guests that run the whole playbook before any other starts. */
  canary?: number;
  retries?: number;
  retryDelay?: number;
}

/** `-e key=value` (repeatable; each one's form checked by its schema). */
export function parseExtraVars(specs: string[] = []): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const spec of specs) {
    const at = spec.indexOf('=');
    vars[spec.slice(0, at)] = spec.slice(at + 1);
  }
  return vars;
}

function refuse(issues: PlaybookIssue[]): void {
  for (const i of issues) process.stderr.write(`fleet: ${formatIssue(i)}\n`);
  setExitStatus(2);
}

/** Arguments as commander hands them: `[selection] <playbook>` with the selection optional. */
export async function play(args: (string | undefined)[], f: PlayFlags): Promise<void> {
  const words = args.filter((a): a is string => a !== undefined);
  if (words.length === 0) throw new UsageError('fleet play [selection] [options] <playbook.yaml>: give the playbook');
  const [selection, file] = words.length === 2 ? words : [undefined, words[0]!];
  const extra = parseExtraVars(f.extraVar);
  const loaded = loadPlaybook(file!);
  if (!loaded.playbook) return refuse(loaded.issues);
  const pb = loaded.playbook;
  const { targets, knownHosts, knownHostsPath } = await resolveHosts(selection, f);
  const inv = await loadInventory(f.inventory);
  // `index` is the guest's place in the inventory, so it does not change with the selection.
  const place = new Map([...inv.hosts.keys()].map((name, i) => [name, i + 1]));
  const scopes = targets.map((t) => guestScope({ host: t.name, address: t.address, inventory: inv.hosts.get(t.name)?.vars ?? {} }, place.get(t.name) ?? 0, pb, extra));
  // {{ slot }} and {{ start }} come from the cron step's plan, made once connected: defined for all.
  const planned = Object.fromEntries(plannedNames(pb).map((n) => [n, '']));
  const undefinedVars = checkVariables(pb, targets.map((t) => t.name), scopes.map((s) => ({ ...s, ...planned })));
  if (undefinedVars.length > 0) return refuse(undefinedVars);
  const session = { ...(await resolveSession(f, targets, knownHosts)), ...retryOptions(f) };
  const scopeOf = new Map(targets.map((t, i) => [t.name, scopes[i]!]));
  const suffix = backupSuffix();
  const t0 = Date.now();
  const cron = await interruptible((signal) => planCronSteps(pb, targets, session, { sudo: f.sudo, fanout: f.fanout, signal }));
  if (cron.interrupted) {
    process.stderr.write('fleet: interrupted while reading the guests\' cron files for the plan; nothing changed\n');
    return setExitStatus(1);
  }
  for (const [host, v] of cron.vars) Object.assign(scopeOf.get(host)!, v);
  let stoppedAt: Stopped | undefined;
  const runGroup = async (group: typeof targets, flags: FanOutFlags) => ({
    results: await playPhases(group, pb, scopeOf, {
      ...session, check: f.check, sudo: f.sudo, backupSuffix: suffix, cronPlans: cron.plans, knownHostsPath, fanout: f.fanout, interruptible,
      fanOut: async (ts, task) => {
        const r = await fanOutWithProgress(ts, task, flags);
        stoppedAt ??= r.stopped;
        return r.results;
      },
    }),
  });
  // --canary: the first N guests run to the end, alone (no batches: they are the first batch); the
  // rest start only if every one of them succeeded.
  const canaries = f.canary ? targets.slice(0, f.canary) : [];
  const first = canaries.length ? await runGroup(canaries, { ...f, batch: undefined, maxFail: undefined }) : undefined;
  const canaryFailed = first ? (first.results as PlayResult[]).filter((r) => r.status !== 'ok').map((r) => r.host) : [];
  const unstarted = first ? canaries.filter((t) => !first.results.some((r) => r.host === t.name)).map((t) => t.name) : [];
  const stopped = canaryFailed.length > 0 || unstarted.length > 0;
  const rest = stopped || canaries.length === targets.length ? undefined : await runGroup(targets.slice(canaries.length), f);
  const played = [...(first?.results ?? []), ...(rest?.results ?? [])] as PlayResult[];
  const summary = summarize(played, targets.length, Date.now() - t0);
  const undone = recordRun('play', f, targets, played, stoppedAt, stopped ? `canary ${foldHosts([...canaryFailed, ...unstarted])} did not finish the playbook` : undefined);
  // JSON: the canaries' own rows name them (the first canaryGuests rows); the summary counts.
  const canary: Record<string, number> = canaries.length ? { canaryGuests: canaries.length, canaryFailed: canaryFailed.length + unstarted.length } : {};
  if (f.json) {
    const c = stepCounts(played);
    printJsonLines(played, { ...summary, changed: played.filter((r) => r.changed).length, stepsChanged: c.changed, stepsUnchanged: c.unchanged, stepsSkipped: c.skipped, stepsFailed: c.failed, ...canary, ...undone.summary });
  } else {
    printPlay(played, summary, { check: !!f.check, name: pb.name });
    if (stopped) {
      process.stdout.write(`canary: ${foldHosts([...canaryFailed, ...unstarted])} did not finish the playbook; the other ${targets.length - canaries.length} guests were not started\n`);
    }
    process.stdout.write(undone.lines);
  }
  setExitStatus(exitCodeOf(summary));
}
