// mlkem768x25519-sha256 against an implementation that shares no code with ssh2 or fleet: OpenSSH
// 9.9+ (scripts/fetch-openssh-peer.sh), both directions. Its client forced to the hybrid logs in to
// emulated guests; fleet's client reaches its sshd with the hybrid (and sshd's log says so). Every
// handshake draws fresh keys, so several connections each way cover varied encodings.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MLKEM_KEX } from '../../src/ssh/kex.js';
import { addPin, loadKnownHosts, saveKnownHosts } from '../../src/ssh/index.js';
import { fleet, jsonLines } from '../cli/cli-harness.js';
import { useFleet } from '../helpers/emulator.js';
import { opensshArgs } from '../helpers/openssh.js';
import { opensshPeer, startPeerSshd, type PeerSshd } from '../helpers/openssh-peer.js';

const { peer, why } = await opensshPeer();
if (!peer) console.error(`kex interop: NO PEER, tests not run: ${why}`);

const getFleet = useFleet({ guests: 4, subnet: '127.192.0.0/16', port: 2222 });

describe.skipIf(!peer)(`mlkem768x25519-sha256 interop with ${peer?.version ?? 'OpenSSH 9.9+ (missing)'}`, () => {
  it('its client, offering only the hybrid, runs commands on every emulated guest', async () => {
    const f = getFleet();
    for (const [i, g] of f.emu.guests.entries()) {
      for (let n = 0; n < 3; n++) {
        const args = ['-v', '-o', `KexAlgorithms=${MLKEM_KEX}`, ...opensshArgs({ state: f.state, address: g.cfg.address, port: f.emu.port, user: f.emu.user })];
        const r = await execa(peer!.ssh, [...args, `echo guest ${i} try ${n}`], { reject: false, stdin: 'ignore', timeout: 20_000 });
        expect(r.stdout, r.stderr).toBe(`guest ${i} try ${n}`);
        expect(r.stderr).toContain(`kex: algorithm: ${MLKEM_KEX}`);
      }
    }
  });

  describe('fleet against its sshd', () => {
    let sshd: PeerSshd;
    let dir: string;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'fleet-kex-interop-'));
      sshd = await startPeerSshd(peer!, '127.192.200.1', 2222);
    });
    afterAll(async () => {
      await sshd?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('negotiates the hybrid, runs the command and reports kex per guest', async () => {
      const kh = join(dir, 'known_hosts');
      writeFileSync(kh, '');
      const pins = await loadKnownHosts(kh);
      addPin(pins, sshd.address, sshd.port, 'ssh-ed25519', Buffer.from(sshd.hostKey, 'base64'));
      await saveKnownHosts(kh, pins);
      // Several inventory names for the one sshd: each is its own connection and handshake.
      const inventory = join(dir, 'inventory');
      const names = Array.from({ length: 8 }, (_, i) => `peer${i + 1}`);
      writeFileSync(inventory, `[peers]\n${names.map((n) => `${n} ansible_host=${sshd.address} ansible_port=${sshd.port} ansible_user=root`).join('\n')}\n`);
      const r = await fleet('run', '-i', inventory, '--identity', sshd.clientKeyPath, '--known-hosts', kh, '--json', '--', 'echo pq');
      expect(r.code, r.err).toBe(0);
      const rows = jsonLines(r.out).filter((x) => x.host);
      expect(rows.map((x) => x.host).sort()).toEqual(names.sort());
      for (const row of rows) expect(row).toMatchObject({ status: 'ok', stdout: 'pq\n', kex: MLKEM_KEX });
      expect(sshd.log().match(new RegExp(`kex: algorithm: ${MLKEM_KEX}`, 'g'))?.length).toBeGreaterThanOrEqual(names.length);
    });
  });
});
