// Closing rotation's man-in-the-middle window on an emulated fleet: new keys confirmed
// through the hypervisor console (`fleet emulator console`), a man in the middle holding the cloned
// key caught by that confirmation, the golden key revoked once no guest is pinned to it, and a host
// presenting it afterwards refused by our client and by the real ssh client.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { fingerprintSha256 } from '../../src/ssh/index.js';
import { runOpenssh } from '../helpers/openssh.js';
import { useFleet } from '../helpers/emulator.js';
import { adminKnownHosts, checkInvariant, rotate, targetsOf } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/fleet', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const F = useFleet({ guests: 6, subnet: '127.127.0.0/16' });
let kh: string;
let console: string;
const only = (...names: string[]) => targetsOf(F().emu).filter((t) => names.includes(t.name));
const golden = (type: string) => readFileSync(join(F().state, 'golden', 'etc', 'ssh', `ssh_host_${type}_key.pub`), 'utf8').split(' ').slice(0, 2);

beforeAll(async () => {
  kh = adminKnownHosts(F().emu);
  // The hypervisor console's view of the guest's keys: no SSH involved.
  console = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} emulator console --state ${JSON.stringify(F().state)} "$FLEET_ADDRESS" -- ` +
    'cat /etc/ssh/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ecdsa_key.pub';
});

async function fleetCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { code: await main(args), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('out-of-band confirmation and the revoked golden key', () => {
  it('keeps new keys the console confirms; the golden key stays while other guests still pin it', async () => {
    expect(existsSync(BUILT), 'run `npm run build` first: the console runs bin/fleet').toBe(true);
    const r = await rotate(F().emu, kh, { targets: only('guest001', 'guest002', 'guest003'), confirmWith: console });
    expect(r.results.map((x) => [x.host, x.outcome, x.error])).toEqual([['guest001', 'done', undefined], ['guest002', 'done', undefined], ['guest003', 'done', undefined]]);
    expect(r.unconfirmed).toBe(false);
    expect(r.revoked).toEqual([]);
    expect(r.keptShared.map((k) => k.pins)).toEqual([3, 3, 3]); // guests 4-6 still pin ed25519, ECDSA and RSA
    expect(readFileSync(kh, 'utf8')).not.toContain('@revoked');
  });

  it('catches a man in the middle holding the cloned key: that guest is rolled back, the others rotate', async () => {
    await F().emu.setFault('mitm@4');
    try {
      const r = await rotate(F().emu, kh, { targets: only('guest004', 'guest005', 'guest006'), confirmWith: console });
      const by = Object.fromEntries(r.results.map((x) => [x.host, x]));
      expect(by.guest004).toMatchObject({ outcome: 'rolled-back', failedStep: 'verify' });
      expect(by.guest004!.error).toMatch(/POSSIBLE MAN IN THE MIDDLE: over SSH the guest's new keys are ssh-ed25519 SHA256:\S+, ecdsa-sha2-nistp256 SHA256:\S+, but the other channel shows/);
      expect(by.guest005!.outcome).toBe('done');
      expect(by.guest006!.outcome).toBe('done');
      // The keys the man in the middle handed over are not pinned.
      const pinned = readFileSync(kh, 'utf8');
      for (const k of by.guest004!.newKeys) expect(pinned).not.toContain(k.key.toString('base64'));
    } finally {
      await F().emu.clearFaults();
    }
    expect((await checkInvariant(F().emu, kh)).problems).toEqual([]);
    // guest004 is back on the golden keys, pinned.
    const back = (await checkInvariant(F().emu, kh)).presented.get('guest004')!;
    expect(back).toContain(golden('ed25519')[1]);
  });

  it('without confirmation the same attack succeeds, which is why the run says so', async () => {
    // Shown on a throwaway copy of known_hosts: the attacker's keys end up pinned for guest004.
    const scratch = mkdtempSync(join(F().state, 'scratch-'));
    const copy = join(scratch, 'known_hosts');
    copyFileSync(kh, copy);
    await F().emu.setFault('mitm@4');
    try {
      const r = await rotate(F().emu, copy, { targets: only('guest004') });
      expect(r.results[0]!.outcome).toBe('done');
      expect(r.unconfirmed).toBe(true);
      const real = (await F().emu.guest('guest004').consoleExec('cat /etc/ssh/ssh_host_ed25519_key.pub')).stdout.toString().split(' ')[1]!;
      expect(readFileSync(copy, 'utf8')).not.toContain(real); // we pinned the attacker's key, not the guest's
    } finally {
      await F().emu.clearFaults();
    }
    // Undo on the guest what the unconfirmed run did: back to the golden keys (the console's way).
    for (const t of ['ed25519', 'ecdsa']) {
      const dir = join(F().emu.guest('guest004').cfg.dir, 'etc', 'ssh');
      copyFileSync(join(F().state, 'golden', 'etc', 'ssh', `ssh_host_${t}_key`), join(dir, `ssh_host_${t}_key`));
      copyFileSync(join(F().state, 'golden', 'etc', 'ssh', `ssh_host_${t}_key.pub`), join(dir, `ssh_host_${t}_key.pub`));
    }
    copyFileSync(join(F().state, 'golden', 'etc', 'ssh', 'sshd_config'), join(F().emu.guest('guest004').cfg.dir, 'etc', 'ssh', 'sshd_config'));
    copyFileSync(join(F().state, 'golden', 'etc', 'ssh', 'ssh_host_rsa_key'), join(F().emu.guest('guest004').cfg.dir, 'etc', 'ssh', 'ssh_host_rsa_key'));
    expect((await F().emu.guest('guest004').startSshd()).ok).toBe(true);
    rmSync(scratch, { recursive: true, force: true });
    expect((await checkInvariant(F().emu, kh)).problems).toEqual([]);
  });

  it('revokes the golden key once the last guest pinned to it is rotated, in a later run of its own', async () => {
    const r = await fleetCli('keys', 'rotate', '-i', F().emu.inventoryPath, '--known-hosts', kh, '--identity', F().emu.clientKeyPath,
      'guest004', '--types', 'ed25519,ecdsa', '--confirm-with', console, '--yes');
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).not.toContain('learned over SSH sessions');
    const revoked = readFileSync(kh, 'utf8').split('\n').filter((l) => l.startsWith('@revoked * '));
    expect(revoked.map((l) => l.split(' ').slice(2, 4).join(' ')).sort()).toEqual(['ecdsa', 'ed25519', 'rsa'].map((t) => golden(t).join(' ')).sort());
    expect(r.out.match(/revoked the cloned key/g)).toHaveLength(3);
    expect((await checkInvariant(F().emu, kh)).problems).toEqual([]);
  });

  it('refuses a host presenting the revoked golden key: scan, fleet run and the real ssh client', async () => {
    const guest = F().emu.guest('guest006');
    const dir = join(guest.cfg.dir, 'etc', 'ssh');
    const saved = Object.fromEntries(['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub'].map((f) => [f, readFileSync(join(dir, f))]));
    // An impostor with the golden image: guest006 serves the golden ed25519 key again.
    copyFileSync(join(F().state, 'golden', 'etc', 'ssh', 'ssh_host_ed25519_key'), join(dir, 'ssh_host_ed25519_key'));
    copyFileSync(join(F().state, 'golden', 'etc', 'ssh', 'ssh_host_ed25519_key.pub'), join(dir, 'ssh_host_ed25519_key.pub'));
    expect((await guest.startSshd()).ok).toBe(true);
    try {
      const scan = await fleetCli('keys', 'scan', '-i', F().emu.inventoryPath, '--known-hosts', kh, 'guest006', '--json');
      expect(scan.code).toBe(3);
      expect(JSON.parse(scan.out.split('\n')[0]!)).toMatchObject({ host: 'guest006', status: 'revoked' });
      const run = await fleetCli('run', '-i', F().emu.inventoryPath, '--known-hosts', kh, '--identity', F().emu.clientKeyPath, 'guest006', '--json', '--', 'true');
      expect(run.code).toBe(3);
      expect(JSON.parse(run.out.split('\n')[0]!).error).toMatch(/REVOKED/);
      const ssh = await runOpenssh({ state: F().state, address: guest.cfg.address, port: F().emu.port, user: F().emu.user, knownHosts: kh }, 'true');
      expect(ssh.exitCode).not.toBe(0);
      expect(String(ssh.stderr)).toMatch(/REVOKED/i);
      const trust = await fleetCli('keys', 'trust', '-i', F().emu.inventoryPath, '--known-hosts', kh, 'guest006', '--replace', '--yes');
      expect(trust.code).toBe(3);
      expect(trust.out).toMatch(/REVOKED guest006 .* never pinned/);
    } finally {
      for (const [f, data] of Object.entries(saved)) writeFileSync(join(dir, f), data, { mode: 0o600 });
      await guest.startSshd();
    }
    expect((await checkInvariant(F().emu, kh)).problems).toEqual([]);
  });

  it('`fleet keys revoke` marks a key by its fingerprint, naming the guests still presenting it', async () => {
    const before = (await checkInvariant(F().emu, kh)).presented.get('guest005')![0]!;
    const fp = fingerprintSha256(Buffer.from(before, 'base64'));
    const noTty = await fleetCli('keys', 'revoke', fp, '-i', F().emu.inventoryPath, '--known-hosts', kh);
    expect(noTty.code).toBe(2);
    const r = await fleetCli('keys', 'revoke', fp, '-i', F().emu.inventoryPath, '--known-hosts', kh, '--yes');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Still presenting it, refused from now on: guest005 (1)');
    expect(readFileSync(kh, 'utf8')).toContain(`@revoked * ssh-ed25519 ${before}`);
    expect((await fleetCli('keys', 'scan', '-i', F().emu.inventoryPath, '--known-hosts', kh, 'guest005')).code).toBe(3);
    // A rotation can no longer start from a revoked key: the guest is skipped, not trusted.
    const again = await rotate(F().emu, kh, { targets: only('guest005') });
    expect(again.results[0]).toMatchObject({ outcome: 'skipped' });
  });
});
