// Journaled rotation on an emulated fleet, through the library: the happy path, then faults at steps
// 5 and 6 (a dropped connection, sshd not coming back, a man in the middle) that must end rolled back
// or finished, never locked out.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readJournal, replay, rotationStatus } from '../../src/hostkeys/index.js';
import { useFleet } from '../helpers/emulator.js';
import { adminKnownHosts, checkInvariant, rotate, sharedKeys } from './helpers.js';

const F = useFleet({ guests: 6, subnet: '127.121.0.0/16' });
let kh: string;

beforeAll(async () => {
  kh = adminKnownHosts(F().emu);
});

describe('rotateFleet', () => {
  it('gives every guest its own keys, pinned, and the journal ends the run', async () => {
    const before = await checkInvariant(F().emu, kh);
    expect(before.problems).toEqual([]);
    expect(sharedKeys(before.presented).length).toBeGreaterThan(0);
    const report = await rotate(F().emu, kh);
    expect(report.results.map((r) => [r.host, r.outcome, r.error])).toEqual(F().emu.guests.map((g) => [g.name, 'done', undefined]));
    expect(report.ended).toBe(true);
    const after = await checkInvariant(F().emu, kh);
    expect(after.problems).toEqual([]);
    expect(sharedKeys(after.presented)).toEqual([]);
    // ed25519 and ECDSA, RSA dropped (--types ed25519,ecdsa): two keys per guest, pinned; the three
    // golden keys, pinned by nothing any more, are revoked.
    for (const keys of after.presented.values()) expect(keys).toHaveLength(2);
    const lines = readFileSync(kh, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines.filter((l) => !l.startsWith('@revoked'))).toHaveLength(12);
    expect(lines.filter((l) => l.startsWith('@revoked * '))).toHaveLength(3);
    expect(report.revoked.map((k) => k.keyType).sort()).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519', 'ssh-rsa']);
    const state = replay(await readJournal(`${kh}.rotate.jsonl`))!;
    expect(state.ended).toBe(true);
    // On the guest: RSA's HostKey line commented out, its files gone, the staging area removed.
    const etcSsh = join(F().emu.guests[0]!.cfg.dir, 'etc', 'ssh'); // the guest's merged view, as it sees it
    const config = readFileSync(join(etcSsh, 'sshd_config'), 'utf8');
    expect(config).toMatch(/^# HostKey \/etc\/ssh\/ssh_host_rsa_key {2}# removed by fleet keys rotate$/m);
    expect(config).toMatch(/^HostKey \/etc\/ssh\/ssh_host_ed25519_key$/m);
    expect(readdirSync(etcSsh).sort()).toEqual(['ssh_host_ecdsa_key', 'ssh_host_ecdsa_key.pub', 'ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub', 'sshd_config']);
    expect(statSync(join(etcSsh, 'ssh_host_ed25519_key')).mode & 0o777).toBe(0o600);
  });

  it('ends every fault at step 5 or 6 rolled back or finished, never locked out; --resume settles the rest', async () => {
    const emu = F().emu;
    const hits: string[] = [];
    // guest003's sshd does not come back the first time (its restart command stops it and fails).
    const restart = 'if [ "$(uname -n)" = guest003 ] && [ ! -e /run/fleet-test-failed ]; then touch /run/fleet-test-failed; systemctl stop ssh; exit 1; fi; systemctl restart ssh';
    const report = await rotate(emu, kh, {
      restartCommand: restart,
      onStep: async (host, step) => {
        hits.push(`${host}:${step}`);
        if (host === 'guest002' && step === 'swap') await emu.setFault('drop:20@2'); // the link dies mid-swap
        if (host === 'guest002' && (step === 'rollback' || step === 'verify')) await emu.clearFaults('drop', '2');
        if (host === 'guest004' && step === 'verify') await emu.setFault('hostkey@4'); // a man in the middle after the restart
        if (host === 'guest004' && step === 'rollback') await emu.clearFaults('hostkey', '4');
        if (host === 'guest005' && step === 'verify') await emu.setFault('refuse@5'); // sshd gone after the restart
      },
    });
    const by = Object.fromEntries(report.results.map((r) => [r.host, r]));
    expect(['done', 'rolled-back']).toContain(by.guest002!.outcome);
    expect(by.guest003).toMatchObject({ outcome: 'rolled-back', failedStep: 'swap' });
    expect(by.guest003!.error).toMatch(/sshd did not take the new keys; the old ones are back/);
    expect(by.guest004).toMatchObject({ outcome: 'rolled-back', failedStep: 'verify' });
    expect(by.guest004!.error).toMatch(/cannot log in with the new host keys pinned alone/);
    expect(by.guest005).toMatchObject({ outcome: 'pending', failedStep: 'verify' });
    expect(by.guest001!.outcome).toBe('done');
    expect(by.guest006!.outcome).toBe('done');
    expect(report.ended).toBe(false);

    // While guest005 refuses connections, every other guest satisfies the invariant, and guest005's
    // restored key is still pinned (it is only unreachable, not unpinned).
    const mid = await checkInvariant(emu, kh);
    expect(mid.problems.filter((p) => !p.startsWith('guest005'))).toEqual([]);
    const waiting = await rotationStatus(`${kh}.rotate.jsonl`, { timeoutMs: 2000, fanout: 8 });
    expect(waiting.ended).toBe(false);
    expect(waiting.rows.find((r) => r.host === 'guest005')).toMatchObject({ state: 'in-progress', step: 'rollback', presents: 'unreachable', next: 'wait (unreachable)' });
    expect(waiting.rows.find((r) => r.host === 'guest001')).toMatchObject({ state: 'done' });
    await emu.clearFaults();
    expect((await rotationStatus(`${kh}.rotate.jsonl`, { timeoutMs: 2000, fanout: 8 })).rows.find((r) => r.host === 'guest005'))
      .toMatchObject({ presents: 'old', next: 'roll back' });
    expect((await checkInvariant(emu, kh)).problems).toEqual([]);

    // A new run is refused while this one is unsettled.
    await expect(rotate(emu, kh)).rejects.toThrow(/--resume/);
    const resumed = await rotate(emu, kh, { resume: true, restartCommand: null });
    expect(resumed.reconciled.map((r) => [r.host, r.outcome])).toEqual([['guest005', 'rolled-back']]);
    expect(resumed.results.map((r) => r.host).sort()).toEqual(
      ['guest002', 'guest003', 'guest004', 'guest005'].filter((h) => by[h]!.outcome !== 'done'),
    );
    expect(resumed.results.every((r) => r.outcome === 'done')).toBe(true);
    expect(resumed.ended).toBe(true);
    const after = await checkInvariant(emu, kh);
    expect(after.problems).toEqual([]);
    expect(sharedKeys(after.presented)).toEqual([]);
    expect(hits).toContain('guest003:rollback');
  });
});
