// `fleet keys trust [sel]`: enrol unknown guests' keys after showing them (clone groups flagged as
// dangerous) and asking; CHANGED keys are replaced only with --replace and a second confirmation.
import { EXIT } from '../../core/index.js';
import { applyTrust, cloneGroups, confirmScans, planTrust, scanFleet, type GuestScan } from '../../hostkeys/index.js';
import { foldHosts, loadInventory, select } from '../../inventory/index.js';
import { setExitStatus } from '../exit.js';
import { interruptible } from '../interrupt.js';
import type { SelectionFlags } from '../selection.js';
import { confirm, describeGroups, keyLine, out, resolveHosts, scanSession } from './keys-common.js';

export interface TrustFlags extends SelectionFlags {
  fanout: number;
  yes?: boolean;
  hash?: boolean;
  replace?: boolean;
  confirmWith?: string;
}

export async function trust(selection: string | undefined, f: TrustFlags): Promise<void> {
  const { targets, knownHosts, knownHostsPath } = await resolveHosts(selection, f);
  const session = await scanSession(f, targets, knownHosts);
  const vars = f.confirmWith ? new Map(select(await loadInventory(f.inventory), selection ?? f.limit ?? 'all').map((h) => [h.name, h.vars])) : undefined;
  const { scans } = await interruptible((signal) => scanFleet(targets, knownHosts, { session, fanout: f.fanout, timeoutMs: f.connectTimeout * 1000, signal }));
  const plan = planTrust(scans, knownHosts);

  if (plan.enrol.length > 0) {
    // Clone groups among the guests to enrol: the keys they share are the golden image's.
    const groups = cloneGroups(plan.enrol.map((s) => ({ ...s })));
    const grouped = new Set(groups.flatMap((g) => g.hosts));
    out(`Unknown guests (${plan.enrol.length}) and the keys they present:\n`);
    if (groups.length > 0) {
      out(`\n  DANGER: ${grouped.size} of them present keys another guest also presents (cloned from one image).\n` +
        '  Pinning a cloned key trusts every clone holding it: any of them can impersonate the others.\n' +
        '  Pin them only to rotate them next (fleet keys rotate --cloned-only).\n');
      out(describeGroups(groups));
    }
    const singles = plan.enrol.filter((s) => !grouped.has(s.host));
    if (singles.length > 0) out('\n');
    for (const s of singles) out(guestKeys(s));
  }
  for (const c of plan.changed) {
    out(`\nCHANGED ${c.scan.host} (${c.scan.address}): someone could be in the middle, or the guest was re-keyed.\n` +
      `  pinned:    ${c.pinned.join('\n             ')}\n` +
      `  presented: ${c.scan.keys.map((k) => `${k.keyType} ${k.fingerprint}`).join('\n             ')}\n`);
  }
  if (plan.changed.length > 0 && !f.replace) out(`\n${plan.changed.length} CHANGED guest${plan.changed.length === 1 ? '' : 's'} left as pinned (replace only with --replace, after checking).\n`);
  for (const s of plan.revoked) {
    out(`\nREVOKED ${s.host} (${s.address}) presents a revoked key: never pinned. ` +
      'Give it new keys through another channel: fleet keys rotate --console CMD (or re-image it).\n');
  }
  if (plan.unreachable.length > 0) out(`\nunreachable, not enrolled: ${foldHosts(plan.unreachable.map((s) => s.host))}\n`);

  let replace = f.replace ? plan.changed.map((c) => c.scan) : [];
  let enrol = plan.enrol;
  let unconfirmed = 0;
  if (f.confirmWith && enrol.length + replace.length > 0) {
    // Keys shown by the other channel stand in for the admin reading fingerprints: no question asked.
    const byName = new Map(targets.map((t) => [t.name, t]));
    const { confirmed, refused } = await confirmScans(f.confirmWith, [...enrol, ...replace], {
      fanout: f.fanout,
      timeoutMs: 120_000,
      targetOf: (s) => ({ name: s.host, address: s.address, port: s.port, user: byName.get(s.host)!.user, vars: vars?.get(s.host) }),
    });
    const ok = new Set(confirmed.map((s) => s.host));
    enrol = enrol.filter((s) => ok.has(s.host));
    replace = replace.filter((s) => ok.has(s.host));
    unconfirmed = refused.length;
    if (confirmed.length > 0) out(`\nconfirmed through --confirm-with: ${foldHosts(confirmed.map((s) => s.host))} (${confirmed.length})\n`);
    if (refused.length > 0) out(`\nNOT CONFIRMED, not pinned (${refused.length}):\n${refused.map((r) => `  ${r.message}\n`).join('')}`);
  }
  if (enrol.length > 0 && !f.confirmWith) {
    const keys = enrol.reduce((n, s) => n + s.keys.length, 0);
    if (!(await confirm(`Pin ${keys} keys of ${enrol.length} guests in ${knownHostsPath}?`, f.yes))) enrol = [];
  }
  let replacing = replace;
  if (replace.length > 0 && !f.confirmWith) {
    const question = `Replace the pinned keys of ${replace.length} guest${replace.length === 1 ? '' : 's'} with the CHANGED keys shown above?`;
    if (!(await confirm(question, f.yes, '--replace --yes'))) replacing = [];
  }
  if (enrol.length === 0 && replacing.length === 0) {
    out(plan.enrol.length + replace.length > 0 ? '\nNothing pinned.\n' : `\nNothing to trust: ${plan.pinned.length} guests already pinned.\n`);
  } else {
    const r = await applyTrust(knownHostsPath, enrol, replacing, { hash: f.hash });
    out(`\ntrust: pinned ${r.keysAdded} keys of ${r.pinned.length} guests in ${knownHostsPath}${f.hash ? ' (hashed names)' : ''}\n`);
    if (r.skipped.length > 0) out(`skipped (known_hosts changed since the scan; scan again): ${foldHosts(r.skipped)}\n`);
  }
  if (plan.revoked.length > 0 || plan.changed.length > replacing.length || unconfirmed > 0) setExitStatus(EXIT.hostKey);
  else if (plan.unreachable.length > 0 || scans.length < targets.length) setExitStatus(EXIT.someFailed);
}

function guestKeys(s: GuestScan): string {
  return `  ${s.host} (${s.address})\n${s.keys.map((k) => `      ${keyLine(k)}`).join('\n')}\n`;
}
