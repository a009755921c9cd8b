// `fleet play [sel] <playbook.yaml>`: validate the whole playbook (and every variable for every
// selected guest) before connecting, then run its steps over one connection per guest.
import { UsageError } from '../../core/index.js';
import { backupSuffix, exitCodeOf } from '../../executor/index.js';
import { loadInventory } from '../../inventory/index.js';
import { checkVariables, formatIssue, guestScope, loadPlaybook, playOn, type PlaybookIssue, type PlayResult } from '../../playbook/index.js';
import { setExitStatus } from '../exit.js';
import { fanOutWithProgress, type FanOutFlags } from '../fan-out.js';
import { printJsonLines } from '../render.js';
import { resolveCredentials, resolveHosts, type SelectionFlags } from '../selection.js';
import { printPlay, stepCounts } from './play-render.js';

export interface PlayFlags extends SelectionFlags, FanOutFlags {
  sudo?: boolean;
  check?: boolean;
  extraVar?: string[];
}

/** `-e key=value` (repeatable). */
export function parseExtraVars(specs: string[] = []): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const spec of specs) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(spec);
    if (!m) throw new UsageError(`-e must be NAME=VALUE (a name of letters, digits and _), got '${spec}'`);
    vars[m[1]!] = m[2]!;
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
  const { targets, knownHosts } = await resolveHosts(selection, f);
  const inv = await loadInventory(f.inventory);
  // `index` is the guest's place in the inventory, so it does not change with the selection.
  const place = new Map([...inv.hosts.keys()].map((name, i) => [name, i + 1]));
  const scopes = targets.map((t) => guestScope({ host: t.name, address: t.address, inventory: inv.hosts.get(t.name)?.vars ?? {} }, place.get(t.name) ?? 0, pb, extra));
  const undefinedVars = checkVariables(pb, targets.map((t) => t.name), scopes);
  if (undefinedVars.length > 0) return refuse(undefinedVars);
  const credentials = await resolveCredentials(f);
  const session = { knownHosts, credentials, connectTimeoutMs: f.connectTimeout * 1000, timeoutMs: f.timeout ? f.timeout * 1000 : undefined };
  const scopeOf = new Map(targets.map((t, i) => [t.name, scopes[i]!]));
  const suffix = backupSuffix();
  const { results, summary } = await fanOutWithProgress(targets, (t, signal) =>
    playOn(t, pb, scopeOf.get(t.name)!, { ...session, check: f.check, sudo: f.sudo, backupSuffix: suffix, signal }), f);
  const played = results as PlayResult[];
  if (f.json) {
    const c = stepCounts(played);
    printJsonLines(played, { ...summary, changed: played.filter((r) => r.changed).length, stepsChanged: c.changed, stepsUnchanged: c.unchanged, stepsSkipped: c.skipped, stepsFailed: c.failed });
  } else printPlay(played, summary, { check: !!f.check, name: pb.name });
  setExitStatus(exitCodeOf(summary));
}
