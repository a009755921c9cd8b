// Shared by the host-key tests: rotation options against an emulated fleet, and the invariant that
// must hold at every instant: known_hosts is a valid file, and every guest is reachable with strict
// checking against it (every key it presents, of every type, is pinned; a pinned login works).
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Emulator } from '../../src/emulator/index.js';
import { rotateFleet, type RotateFleetOptions } from '../../src/hostkeys/index.js';
import { fanout } from '../../src/executor/index.js';
import { loadKnownHosts, parseKnownHosts, probeHostKeys, SshConnection, verify } from '../../src/ssh/index.js';

/** The admin's own known_hosts for a test: a copy of the emulator's, in the fleet's state directory. */
export function adminKnownHosts(emu: Emulator): string {
  const kh = join(emu.state, 'admin_known_hosts');
  copyFileSync(emu.knownHostsPath, kh);
  return kh;
}

export function targetsOf(emu: Emulator) {
  return emu.guests.map((g) => ({ name: g.cfg.name, address: g.cfg.address, port: emu.port, user: emu.user }));
}

export function rotateOptions(emu: Emulator, knownHostsPath: string, extra: Partial<RotateFleetOptions> = {}): RotateFleetOptions {
  return {
    targets: targetsOf(emu),
    knownHostsPath,
    journalPath: `${knownHostsPath}.rotate.jsonl`,
    credentials: { privateKey: readFileSync(emu.clientKeyPath) },
    connectTimeoutMs: 5000,
    commandTimeoutMs: 30_000,
    fanout: 32,
    types: ['ed25519', 'ecdsa'],
    clonedOnly: false,
    restartCommand: null,
    resume: false,
    ...extra,
  };
}

export const rotate = (emu: Emulator, kh: string, extra: Partial<RotateFleetOptions> = {}) => rotateFleet(rotateOptions(emu, kh, extra));

export interface InvariantReport {
  problems: string[];
  /** base64 of the ed25519 key each guest presents, by guest name. */
  presented: Map<string, string[]>;
}

/** Checks the invariant for every guest; returns the problems found (empty: it holds). */
export async function checkInvariant(emu: Emulator, knownHostsPath: string, o: { login?: boolean } = {}): Promise<InvariantReport> {
  const problems: string[] = [];
  const text = readFileSync(knownHostsPath);
  const kh = parseKnownHosts(text, knownHostsPath);
  for (const w of kh.warnings) problems.push(`known_hosts ${w.file}:${w.line}: ${w.message}`);
  const loaded = await loadKnownHosts(knownHostsPath);
  const key = readFileSync(emu.clientKeyPath);
  const presented = new Map<string, string[]>();
  await fanout(
    targetsOf(emu),
    async (t) => {
      const p = await probeHostKeys({ address: t.address, port: t.port, timeoutMs: 5000 });
      if (p.error) problems.push(`${t.name}: unreachable: ${p.error.message}`);
      if (p.keys.length === 0) problems.push(`${t.name}: presents no key`);
      presented.set(t.name, p.keys.map((k) => k.key.toString('base64')));
      for (const k of p.keys) {
        const v = verify(loaded, t.address, t.port, k.keyType, k.key);
        if (v !== 'ok') problems.push(`${t.name}: presents ${k.keyType} ${k.fingerprint}, which known_hosts judges ${v}`);
      }
      if (o.login !== false) {
        try {
          const c = await SshConnection.connect({ name: t.name, address: t.address, port: t.port, knownHosts: loaded, credentials: { username: t.user, privateKey: key }, connectTimeoutMs: 5000 });
          c.close();
        } catch (err) {
          problems.push(`${t.name}: pinned login failed: ${(err as Error).message}`);
        }
      }
      return { host: t.name, address: t.address, status: 'ok', exitCode: null, stdout: '', stderr: '', changed: false, durationMs: 0 };
    },
    { fanout: 32 },
  );
  return { problems, presented };
}

/** Guests whose presented keys some other guest also presents. */
export function sharedKeys(presented: Map<string, string[]>): string[] {
  const owners = new Map<string, string[]>();
  for (const [host, keys] of presented) for (const k of keys) owners.set(k, [...(owners.get(k) ?? []), host]);
  return [...owners.values()].filter((o) => o.length > 1).map((o) => o.join(','));
}
