// `fleet keys revoke <fingerprint> [sel]`: mark a key @revoked (for every host), after showing which
// selected guests still present it and which known_hosts lines still pin it: all of them are refused
// from then on.
import { UsageError } from '../../core/index.js';
import { pinsOfKey, scanFleet } from '../../hostkeys/index.js';
import { foldHosts } from '../../inventory/index.js';
import { addRevoked, fingerprintSha256, updateKnownHosts, type KnownHostsEntry } from '../../ssh/index.js';
import { interruptible } from '../interrupt.js';
import type { SelectionFlags } from '../selection.js';
import { confirm, out, resolveHosts, scanSession } from './keys-common.js';

export async function revoke(fingerprint: string, selection: string | undefined, f: SelectionFlags & { fanout: number; yes?: boolean }): Promise<void> {
  const wanted = fingerprint.startsWith('SHA256:') ? fingerprint : `SHA256:${fingerprint}`;
  const { targets, knownHosts, knownHostsPath } = await resolveHosts(selection, f);
  const session = await scanSession(f, targets, knownHosts);
  const { scans } = await interruptible((signal) => scanFleet(targets, knownHosts, { session, fanout: f.fanout, timeoutMs: f.connectTimeout * 1000, signal }));
  const fromFile = knownHosts.lines.find((l): l is KnownHostsEntry => l.kind === 'entry' && fingerprintSha256(l.key) === wanted);
  const fromScan = scans.flatMap((s) => s.keys).find((k) => k.fingerprint === wanted);
  const key = fromFile ? { keyType: fromFile.keyType, key: fromFile.key } : fromScan ? { keyType: fromScan.keyType, key: fromScan.key } : undefined;
  if (!key) throw new UsageError(`no key with fingerprint ${wanted} in ${knownHostsPath} or presented by the selected guests`);
  const presenting = scans.filter((s) => s.keys.some((k) => k.key.equals(key.key))).map((s) => s.host);
  const pins = pinsOfKey(knownHosts, key.key);
  out(`Revoking ${key.keyType} ${wanted} in ${knownHostsPath} (for every host).\n`);
  if (presenting.length > 0) out(`Still presenting it, refused from now on: ${foldHosts(presenting)} (${presenting.length})\n`);
  if (pins.length > 0) out(`Still pinned by ${pins.length} line${pins.length === 1 ? '' : 's'} (${pins.slice(0, 5).map((p) => p.line).join(', ')}${pins.length > 5 ? ', ...' : ''}), which stop counting.\n`);
  if (!(await confirm(`Revoke ${wanted}?`, f.yes))) {
    out('Nothing revoked.\n');
    return;
  }
  const added = await updateKnownHosts(knownHostsPath, (kh) => addRevoked(kh, key.keyType, key.key, { comment: `revoked by fleet keys revoke ${wanted}` }));
  out(added ? `revoked ${key.keyType} ${wanted}\n` : `${wanted} was already revoked\n`);
}
