// `fleet keys scan [sel]`: every guest's host keys, their pin status and the clone groups.
import { EXIT } from '../../core/index.js';
import { foldScans, scanFleet, type GuestScan } from '../../hostkeys/index.js';
import { foldHosts } from '../../inventory/index.js';
import type { ProbeType } from '../../ssh/index.js';
import { setExitStatus } from '../exit.js';
import { interruptible } from '../interrupt.js';
import type { SelectionFlags } from '../selection.js';
import { describeGroups, keyLine, out, resolveHosts, scanSession, statusWord } from './keys-common.js';

export interface ScanFlags extends SelectionFlags {
  fanout: number;
  types?: ProbeType[];
  json?: boolean;
}

export async function scan(selection: string | undefined, f: ScanFlags): Promise<void> {
  const { targets, knownHosts } = await resolveHosts(selection, f);
  const session = await scanSession(f, targets, knownHosts);
  const t0 = Date.now();
  const { scans, groups } = await interruptible((signal) =>
    scanFleet(targets, knownHosts, { session, fanout: f.fanout, timeoutMs: f.connectTimeout * 1000, types: f.types, signal }),
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
    printBlocks(scans);
    if (groups.length > 0) {
      out(`\nClone groups (guests presenting the same host key; any of them can impersonate the others), largest first:\n`);
      out(describeGroups(groups));
      out('Give each its own keys: fleet keys rotate --cloned-only\n');
    }
    const parts = (['pinned', 'unknown', 'changed', 'revoked', 'unreachable'] as const).filter((k) => summary[k] > 0).map((k) => `${summary[k]} ${statusWord(k)}`);
    out(`\nscan: ${parts.join(', ') || 'nothing'} of ${summary.total}; ${groups.length} clone group${groups.length === 1 ? '' : 's'}` +
      ` (${groups.reduce((n, g) => n + g.hosts.length, 0)} guests) in ${(summary.durationMs / 1000).toFixed(1)} s\n`);
  }
  // As a check: 3 for a key that must not be trusted, 1 for anything still to do (a clone group to
  // rotate, a key to pin, a guest not reached), 0 only when every guest has its own pinned keys.
  if (summary.changed + summary.revoked > 0) setExitStatus(EXIT.hostKey);
  else if (summary.unreachable + summary.notRun + summary.unknown + groups.length > 0) setExitStatus(EXIT.someFailed);
}

/** Cells wider than this get a line of their own, so one long host list does not widen every row. */
const MAX_CELL = 40;

/** One row (plus a line per further key) per block of guests that read the same. */
function printBlocks(scans: GuestScan[]): void {
  const blocks = foldScans(scans).map((b) => ({
    ...b,
    hostCell: b.hosts.length === 1 ? b.hosts[0]! : `${foldHosts(b.hosts)} (${b.hosts.length})`,
    addressCell: b.addresses.length === 1 ? b.addresses[0]! : foldHosts(b.addresses),
  }));
  const w = (xs: string[], min: number) => Math.max(min, ...xs.filter((x) => x.length <= MAX_CELL).map((x) => x.length));
  const hw = w(blocks.map((b) => b.hostCell), 5);
  const aw = w(blocks.map((b) => b.addressCell), 7);
  out(`${'HOSTS'.padEnd(hw)}  ${'ADDRESS'.padEnd(aw)}  ${'STATUS'.padEnd(11)}  GROUP  KEY\n`);
  for (const b of blocks) {
    // A cell too wide for its column goes on the line above the row, whole (it is a selection to copy).
    const long = [b.hostCell, b.addressCell].filter((c, i) => c.length > (i === 0 ? hw : aw));
    for (const c of long) out(`${c}\n`);
    const cell = (c: string, width: number) => (c.length > width ? '' : c).padEnd(width);
    const head = `${cell(b.hostCell, hw)}  ${cell(b.addressCell, aw)}  ${statusWord(b.status).padEnd(11)}  ${String(b.cloneGroup ?? '-').padEnd(5)}  `;
    if (b.keys.length === 0) out(`${head}${b.error ?? 'no key'}\n`);
    b.keys.forEach((k, i) => out(`${i === 0 ? head : ' '.repeat(head.length)}${keyLine(k)}\n`));
  }
}
