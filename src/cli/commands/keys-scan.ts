// `fleet keys scan [sel]`: every guest's host keys, their pin status and the clone groups.
import { EXIT } from '../../core/index.js';
import { scanFleet, type GuestScan } from '../../hostkeys/index.js';
import { foldHosts } from '../../inventory/index.js';
import type { ProbeType } from '../../ssh/index.js';
import { setExitStatus } from '../exit.js';
import { interruptible } from '../interrupt.js';
import type { SelectionFlags } from '../selection.js';
import { describeGroups, keyLine, out, resolveHosts, statusWord } from './keys-common.js';

export interface ScanFlags extends SelectionFlags {
  fanout: number;
  types?: ProbeType[];
  json?: boolean;
}

export async function scan(selection: string | undefined, f: ScanFlags): Promise<void> {
  const { targets, knownHosts } = await resolveHosts(selection, f);
  const t0 = Date.now();
  const { scans, groups } = await interruptible((signal) =>
    scanFleet(targets, knownHosts, { fanout: f.fanout, timeoutMs: f.connectTimeout * 1000, types: f.types, signal }),
  );
  const count = (s: GuestScan['status']) => scans.filter((x) => x.status === s).length;
  const summary = {
    total: targets.length, pinned: count('pinned'), unknown: count('unknown'), changed: count('changed'),
    revoked: count('revoked'), unreachable: count('unreachable'), notRun: targets.length - scans.length,
    cloneGroups: groups.map((g) => ({ id: g.id, size: g.hosts.length, hosts: foldHosts(g.hosts), keys: g.keys.map((k) => ({ type: k.keyType, fingerprint: k.fingerprint })) })),
    durationMs: Date.now() - t0,
  };
  if (f.json) {
    for (const s of scans) {
      out(`${JSON.stringify({
        host: s.host, address: s.address, keys: s.keys.map((k) => ({ type: k.keyType, fingerprint: k.fingerprint })),
        status: s.status, cloneGroup: s.cloneGroup, ...(s.error ? { error: s.error } : {}),
      })}\n`);
    }
    out(`${JSON.stringify({ summary })}\n`);
  } else {
    printTable(scans);
    if (groups.length > 0) {
      out(`\nClone groups (guests presenting the same host key; any of them can impersonate the others), largest first:\n`);
      out(describeGroups(groups));
      out('Give each its own keys: fleet keys rotate --cloned-only\n');
    }
    const parts = (['pinned', 'unknown', 'changed', 'revoked', 'unreachable'] as const).filter((k) => summary[k] > 0).map((k) => `${summary[k]} ${statusWord(k)}`);
    out(`\nscan: ${parts.join(', ') || 'nothing'} of ${summary.total}; ${groups.length} clone group${groups.length === 1 ? '' : 's'}` +
      ` (${groups.reduce((n, g) => n + g.hosts.length, 0)} guests) in ${(summary.durationMs / 1000).toFixed(1)} s\n`);
  }
  if (summary.changed + summary.revoked > 0) setExitStatus(EXIT.hostKey);
  else if (summary.unreachable + summary.notRun > 0) setExitStatus(EXIT.someFailed);
}

function printTable(scans: GuestScan[]): void {
  const w = (xs: string[], min: number) => Math.max(min, ...xs.map((x) => x.length));
  const hw = w(scans.map((s) => s.host), 4);
  const aw = w(scans.map((s) => s.address), 7);
  out(`${'HOST'.padEnd(hw)}  ${'ADDRESS'.padEnd(aw)}  ${'STATUS'.padEnd(11)}  GROUP  KEY\n`);
  for (const s of scans) {
    const head = `${s.host.padEnd(hw)}  ${s.address.padEnd(aw)}  ${statusWord(s.status).padEnd(11)}  ${String(s.cloneGroup ?? '-').padEnd(5)}  `;
    if (s.keys.length === 0) out(`${head}${s.error ?? 'no key'}\n`);
    s.keys.forEach((k, i) => out(`${i === 0 ? head : ' '.repeat(head.length)}${keyLine(k)}\n`));
  }
}
