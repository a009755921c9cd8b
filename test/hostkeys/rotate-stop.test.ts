// keys rotate stops early instead of failing guest after guest: when the first guests to finish all
// fail the same way, and with --batch/--max-fail; guests not started are named and a resume can
// carry on; unreachable guests are listed, not counted as "not cloned".
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fleet, jsonLines } from '../cli/cli-harness.js';
import { useFleet } from '../helpers/emulator.js';
import { adminKnownHosts, checkInvariant, rotate } from './helpers.js';

const F = useFleet({ guests: 12, subnet: '127.166.128.0/17' });
let kh: string;
const sel = () => ['-i', F().emu.inventoryPath, '--known-hosts', kh, '--identity', F().emu.clientKeyPath];

beforeAll(() => {
  kh = adminKnownHosts(F().emu);
});

describe('keys rotate stops early', () => {
  it('the first 5 guests to finish failing alike stop the run; the rest are not started, and every guest stays reachable', async () => {
    // Passes the check before the run (it prints the current keys), then can never show new ones:
    // every guest is rolled back at step 6 the same way.
    const stale = `cat ${JSON.stringify(join(F().state, 'golden', 'etc', 'ssh'))}/ssh_host_*_key.pub`;
    const r = await rotate(F().emu, kh, { fanout: 2, types: ['ed25519'], confirmWith: stale, journalPath: join(F().state, 'stale.jsonl') });
    expect(r.stopped).toMatch(/^the first 5 guests to finish all failed the same way \(at step 'verify': guest\d+: POSSIBLE MAN IN THE MIDDLE/);
    expect(r.results.length).toBeGreaterThanOrEqual(5);
    expect(r.results.length).toBeLessThanOrEqual(6);
    expect(r.results.every((x) => x.outcome === 'rolled-back')).toBe(true);
    expect(r.results.length + r.notStarted.length).toBe(12);
    expect(r.ended).toBe(false);
    expect((await checkInvariant(F().emu, kh)).problems).toEqual([]);
    const st = jsonLines((await fleet('keys', 'status', ...sel(), '--journal', join(F().state, 'stale.jsonl'), '--json')).out);
    expect(st.filter((x) => x.state === 'not-started').map((x) => x.host).sort()).toEqual([...r.notStarted].sort());
  });

  it('--batch 2 --max-fail 1: two unreachable guests in the first batch stop it; failures fold into one line', async () => {
    await F().emu.setFault('refuse@1-2');
    try {
      const r = await fleet('keys', 'rotate', ...sel(), '--batch', '2', '--max-fail', '1', '--journal', join(F().state, 'batch.jsonl'), '--yes');
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/^skipped \(2\):\n  guest\[001-002\] \(2\): <address>:\d+: ECONNREFUSED/m);
      expect(r.out).toContain('stopped: 2 guests failed, more than --max-fail 1 allows; no further batch was started');
      expect(r.out).toContain('not started (10): guest[003-012]');
    } finally {
      await F().emu.clearFaults();
    }
    for (const bad of [['--batch', '0'], ['--batch', '150%'], ['--max-fail', 'x'], ['--max-fail', '101%']]) {
      const r = await fleet('keys', 'rotate', ...sel(), ...bad, '--yes');
      expect(r.code, bad.join(' ')).toBe(2);
      expect(r.err.trim().split('\n'), bad.join(' ')).toHaveLength(1);
    }
  });

  it('--cloned-only lists an unreachable guest as such (not as "not cloned") and exits 1', async () => {
    await F().emu.setFault('refuse@3');
    try {
      const r = await fleet('keys', 'rotate', ...sel(), 'guest[001-004]', '--cloned-only', '--types', 'ed25519', '--journal', join(F().state, 'cloned.jsonl'), '--yes');
      expect(r.out).toContain('(3 of the 3 reached share keys)');
      expect(r.out).toContain('Unreachable, not rotated (1): guest003');
      expect(r.out).toMatch(/^unreachable, not rotated \(1\):\n  guest003: .*ECONNREFUSED/m);
      expect(r.out).toContain('new keys, pinned: guest[001-002,004] (3)');
      expect(r.code).toBe(1);
    } finally {
      await F().emu.clearFaults();
    }
    expect((await checkInvariant(F().emu, kh)).problems).toEqual([]);
  });
});
