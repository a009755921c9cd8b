// The audit's one pass over the fleet, read-only: per guest at once, the host key scan (as
// `keys scan` does it, no login), its sshd's key exchange offer (one TCP connection, no login) and one
// pinned login running the audit command. Every selected guest gets a record, reached or not.
import { fanout, withConnection, type FleetEvent, type GuestTarget, type HostResult, type SessionOptions } from '../executor/index.js';
import { pinStatus, probeVia, type ScanOptions } from '../hostkeys/index.js';
import {
  hostKeyName, namesHost, pinsOf, probeHostKeys, type KnownHosts, type KnownHostsEntry, type PinnedKey,
} from '../ssh/index.js';
import { AUDIT_COMMAND, parseAuditOutput } from './guest-script.js';
import { readKexOffer } from './kexinit.js';
import type { GuestAudit } from './model.js';

export interface CollectOptions {
  fanout: number;
  onEvent?: (e: FleetEvent) => void;
  signal?: AbortSignal;
}

/** The pins naming this guest itself (wildcard lines are policy, not its pin), revoked keys left out. */
export function ownPins(kh: KnownHosts, address: string, port: number): PinnedKey[] {
  const name = hostKeyName(address, port);
  const own = pinsOf(kh, address, port);
  const entries = own.lines.filter((l): l is KnownHostsEntry => l.kind === 'entry');
  const revoked = new Set(kh.lines.flatMap((l) => (l.kind === 'entry' && l.marker === 'revoked' ? [l.key.toString('base64')] : [])));
  return entries
    .filter((e) => !e.marker && namesHost(e, name) && !revoked.has(e.key.toString('base64')))
    .map((e) => ({ keyType: e.keyType, key: e.key, line: e.line }));
}

/** One guest: scan, kex offer and login at once. */
async function auditGuest(t: GuestTarget, session: SessionOptions, done: (g: GuestAudit) => void): Promise<HostResult> {
  const kh = session.knownHosts;
  const scanSession: ScanOptions['session'] = { credentials: session.credentials, identities: session.identities };
  const via = probeVia({ name: t.name, address: t.address, port: t.port, user: t.user, jump: t.jump, proxyCommand: t.proxyCommand }, kh, scanSession);
  const timeoutMs = t.connectTimeoutMs ?? session.connectTimeoutMs;
  const probing = probeHostKeys({ address: t.address, port: t.port, timeoutMs, ...(via ? { via } : {}) });
  const kexing = via
    ? Promise.resolve({ error: 'behind a jump host or ProxyCommand (read straight from its address only)' })
    : readKexOffer(t.address, t.port, timeoutMs).then((kex) => ({ kex }), (err: Error) => ({ error: err.message }));
  let facts: GuestAudit['facts'];
  const login = await withConnection(t, session, async (conn, started) => {
    const r = await conn.exec(AUDIT_COMMAND, { timeoutMs: session.timeoutMs });
    const base = { host: t.name, address: t.address, exitCode: r.exitCode, signal: r.signal, stdout: '', stderr: r.stderr.toString(), changed: false, durationMs: Date.now() - started };
    if (r.timedOut) return { ...base, status: 'timeout', error: `${t.name}: the audit command took over ${session.timeoutMs} ms; stopped` };
    if (r.exitCode !== 0) {
      const why = base.stderr.trim().split('\n').at(-1) || `exit status ${r.exitCode ?? r.signal}`;
      return { ...base, status: 'failed', error: `${t.name}: the audit command failed: ${why}` };
    }
    try {
      facts = parseAuditOutput(r.stdout.toString(), t.name);
    } catch (err) {
      return { ...base, status: 'failed', error: (err as Error).message };
    }
    return { ...base, status: 'ok' };
  });
  const [probe, kex] = await Promise.all([probing, kexing]);
  done({
    host: t.name, address: t.address,
    login: { status: login.status, ...(login.error ? { error: login.error } : {}) },
    ...(facts ? { facts } : {}),
    ...(probe.error
      ? { keysError: probe.error.message }
      : { keys: { presented: probe.keys, verdicts: pinStatus(kh, { name: t.name, address: t.address, port: t.port }, probe.keys).verdicts } }),
    pins: ownPins(kh, t.address, t.port),
    knownHostsFile: kh.file,
    ...('kex' in kex ? { kex: kex.kex } : { kexError: kex.error }),
  });
  return login;
}

/** Every target's record, in the targets' order; guests never started (interrupted) say so. */
export async function collectAudit(targets: GuestTarget[], session: SessionOptions, o: CollectOptions): Promise<GuestAudit[]> {
  const byName = new Map<string, GuestAudit>();
  await fanout(targets, (t) => auditGuest(t, session, (g) => byName.set(t.name, g)), { fanout: o.fanout, onEvent: o.onEvent, signal: o.signal });
  return targets.map((t) => byName.get(t.name) ?? {
    host: t.name, address: t.address, pins: [], login: { status: 'unreachable', error: `${t.name}: not started (interrupted)` },
  });
}
