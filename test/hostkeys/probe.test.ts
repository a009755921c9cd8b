// The key-exchange-only probe (src/ssh/probe.ts) against emulated guests: one key per type, the same
// fingerprints `ssh-keygen -lf` prints, types not offered, and bounded failures.
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { probeHostKey, probeHostKeys, ProbeError } from '../../src/ssh/index.js';
import { useFleet } from '../helpers/emulator.js';

const F = useFleet({ guests: 3, subnet: '127.120.0.0/16' });
const target = (i: number, timeoutMs = 3000) => ({ address: F().emu.guests[i - 1]!.cfg.address, port: F().emu.port, timeoutMs });

describe('probeHostKeys', () => {
  it('reports every offered type with the fingerprint ssh-keygen -lf prints', async () => {
    const r = await probeHostKeys(target(1));
    expect(r.error).toBeUndefined();
    expect(r.keys.map((k) => k.type)).toEqual(['ed25519', 'ecdsa', 'rsa']);
    for (const k of r.keys) {
      const pub = join(F().state, 'golden', 'etc', 'ssh', `ssh_host_${k.type}_key.pub`);
      const printed = execFileSync('ssh-keygen', ['-lf', pub], { encoding: 'utf8' }).split(' ')[1];
      expect(k.fingerprint).toBe(printed);
    }
    expect(r.keys[0]!.keyType).toBe('ssh-ed25519');
  });

  it('says null for a type the server does not offer', async () => {
    // Under the hostkey fault the guest shows an attacker's ed25519 and ECDSA keys, no RSA.
    await F().emu.setFault('hostkey@2');
    try {
      expect(await probeHostKey(target(2), 'rsa')).toBeNull();
      const r = await probeHostKeys(target(2));
      expect(r.keys.map((k) => k.type)).toEqual(['ed25519', 'ecdsa']);
    } finally {
      await F().emu.clearFaults();
    }
  });

  it('classifies a refused and a hanging guest within the deadline', async () => {
    await F().emu.setFault('refuse@2');
    await F().emu.setFault('hang@3');
    try {
      const refused = await probeHostKeys(target(2));
      expect(refused.error).toBeInstanceOf(ProbeError);
      expect(refused.error!.reason).toBe('unreachable');
      const t0 = Date.now();
      const hung = await probeHostKeys(target(3, 500));
      expect(hung.error!.reason).toBe('timeout');
      expect(Date.now() - t0).toBeLessThan(2500);
    } finally {
      await F().emu.clearFaults();
    }
  });

  it('yields no key from a server that does not speak SSH', async () => {
    // The probe must fail, not invent a key.
    const srv = net.createServer((s) => s.end('SSH-2.0-bogus\r\nnot a key exchange\r\n'));
    await new Promise<void>((r) => srv.listen(0, '127.120.1.1', () => r()));
    try {
      const port = (srv.address() as net.AddressInfo).port;
      const r = await probeHostKeys({ address: '127.120.1.1', port, timeoutMs: 2000 });
      expect(r.keys).toEqual([]);
      expect(r.error).toBeDefined();
    } finally {
      srv.close();
    }
  });
});
