// Key exchange negotiation: fleet and the emulator prefer mlkem768x25519-sha256 and say so in
// `fleet run --json`; against OpenSSH 9.2 (no ML-KEM, only sntrup761) fleet falls back to
// curve25519-sha256, and OpenSSH 9.2's client still reaches emulated guests.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kexAlgorithms, MLKEM_KEX } from '../../src/ssh/kex.js';
import { addPin, loadKnownHosts, saveKnownHosts } from '../../src/ssh/index.js';
import { fleet, jsonLines } from '../cli/cli-harness.js';
import { useFleet } from '../helpers/emulator.js';
import { opensshArgs } from '../helpers/openssh.js';
import { startRealSshd, type RealSshd } from '../helpers/real-sshd.js';

const getFleet = useFleet({ guests: 3, subnet: '127.190.0.0/16', port: 2222 });
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-kex-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('key exchange', () => {
  it('offers the post-quantum hybrid first, then curve25519-sha256', () => {
    expect(kexAlgorithms().slice(0, 2)).toEqual([MLKEM_KEX, 'curve25519-sha256']);
  });

  it('negotiates mlkem768x25519-sha256 with emulated guests, reported per guest by run --json', async () => {
    const { emu } = getFleet();
    const r = await fleet('run', '-i', emu.inventoryPath, '--identity', emu.clientKeyPath, '--known-hosts', emu.knownHostsPath, '--json', '--', 'echo ok');
    expect(r.code).toBe(0);
    const rows = jsonLines(r.out).filter((x) => x.host);
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row).toMatchObject({ status: 'ok', stdout: 'ok\n', kex: MLKEM_KEX });
  });

  it("lets OpenSSH 9.2's client in with curve25519-sha256 (it has no ML-KEM)", async () => {
    const f = getFleet();
    const g = f.emu.guests[0]!;
    const r = await execa('ssh', ['-v', ...opensshArgs({ state: f.state, address: g.cfg.address, port: f.emu.port, user: f.emu.user }), 'echo in'], { reject: false, stdin: 'ignore' });
    expect(r.stdout).toBe('in');
    expect(r.stderr).toContain('kex: algorithm: curve25519-sha256');
  });

  describe('against OpenSSH 9.2 sshd', () => {
    let sshd: RealSshd;
    beforeAll(async () => {
      sshd = await startRealSshd('127.191.0.1', 2222);
    });
    afterAll(() => sshd?.stop());

    it('falls back to curve25519-sha256 and reports it', async () => {
      const kh = join(dir, 'known_hosts');
      writeFileSync(kh, '');
      const pins = await loadKnownHosts(kh);
      addPin(pins, sshd.address, sshd.port, 'ssh-ed25519', Buffer.from(sshd.hostKey, 'base64'));
      await saveKnownHosts(kh, pins);
      const inventory = join(dir, 'inventory');
      writeFileSync(inventory, `[old]\nold1 ansible_host=${sshd.address} ansible_port=${sshd.port} ansible_user=root\n`);
      const key = join(dir, 'client_key');
      writeFileSync(key, sshd.clientKey, { mode: 0o600 });
      const r = await fleet('run', '-i', inventory, '--identity', key, '--known-hosts', kh, '--json', '--', 'echo ok');
      expect(r.code).toBe(0);
      expect(jsonLines(r.out)[0]).toMatchObject({ host: 'old1', status: 'ok', stdout: 'ok\n', kex: 'curve25519-sha256' });
    });
  });
});
