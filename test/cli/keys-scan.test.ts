// `fleet keys scan` as a check on 30 cloned guests: identical guests are one folded row (not one per
// guest), and the exit status says whether anything is left to do (clone group, unpinned key,
// unreachable guest: 1; a CHANGED or revoked key: 3; every guest its own pinned keys: 0).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fleet } from './cli-harness.js';
import { useFleet } from '../helpers/emulator.js';

const F = useFleet({ guests: 30, subnet: '127.167.0.0/16', port: 2222 });
let kh: string;
const sel = () => ['-i', F().emu.inventoryPath, '--known-hosts', kh];

beforeAll(() => {
  kh = join(F().state, 'admin_known_hosts');
  writeFileSync(kh, ''); // nothing trusted yet
});

describe('fleet keys scan folds identical guests and exits as a check', () => {
  it('30 guests with the golden keys: one row, exit 1 (a clone group, nothing pinned)', async () => {
    const r = await fleet('keys', 'scan', ...sel());
    expect(r.code, r.err).toBe(1);
    const lines = r.out.trim().split('\n');
    expect(lines[1]).toMatch(/^guest\[001-030\] \(30\) +127\.167\.0\.\[1-30\] +unknown +1 +ssh-ed25519 +SHA256:\S+$/);
    expect(lines[2]).toMatch(/^ +ecdsa-sha2-nistp256 +SHA256:/);
    expect(lines[3]).toMatch(/^ +ssh-rsa +SHA256:/);
    expect(lines.length).toBeLessThan(15);
    expect(r.out).toContain('group 1: guest[001-030] (30 guests) share');
  });

  it('pinned clones still exit 1 (the clone group); one guest on its own, pinned, exits 0', async () => {
    expect((await fleet('keys', 'trust', ...sel(), '--yes')).code).toBe(0);
    const all = await fleet('keys', 'scan', ...sel());
    expect(all.code).toBe(1);
    expect(all.out).toMatch(/^guest\[001-030\] \(30\) +127\.167\.0\.\[1-30\] +pinned +1 /m);
    const one = await fleet('keys', 'scan', ...sel(), 'guest001');
    expect(one.code, one.out).toBe(0);
    expect(one.out).toMatch(/^guest001 +127\.167\.0\.1 +pinned +- +ssh-ed25519 /m);
  });

  it('unreachable guests fold by reason, and the scan exits 1', async () => {
    await F().emu.setFault('refuse@3-4');
    try {
      const r = await fleet('keys', 'scan', ...sel(), 'guest[001-005]');
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/^guest\[003-004\] \(2\) +127\.167\.0\.\[3-4\] +unreachable +- +.*ECONNREFUSED/m);
      expect(r.out).toMatch(/^guest\[001-002,005\] \(3\) +127\.167\.0\.\[1-2,5\] +pinned +1 /m);
    } finally {
      await F().emu.clearFaults();
    }
  });
});
