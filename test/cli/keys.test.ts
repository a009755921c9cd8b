// `fleet keys` end to end, in-process through main(), on 200 guests cloned with identical host keys:
// scan finds one clone group of 200; trust pins them; rotate gives each its own keys; scan then
// finds 200 distinct key sets, all pinned; the real ssh client with StrictHostKeyChecking=yes and
// our (hashed) known_hosts reaches every guest.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleet } from './cli-harness.js';
import { Emulator } from '../../src/emulator/index.js';
import { runOpenssh } from '../helpers/openssh.js';

const GUESTS = 200;
let emu: Emulator;
let dir: string;
let kh: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-keys-test-'));
  emu = await Emulator.start({ guests: GUESTS, state: join(dir, 'state'), subnet: '127.123.0.0/16', port: 2222 });
  kh = join(dir, 'admin_known_hosts'); // starts empty: nothing is trusted yet
});

afterAll(async () => {
  await emu?.stop();
  rmSync(dir, { recursive: true, force: true });
});


const sel = () => ['-i', emu.inventoryPath, '--known-hosts', kh];
const jsonLines = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l));

describe('fleet keys on 200 cloned guests', () => {
  it('scan finds one clone group of 200, nothing pinned', async () => {
    const r = await fleet('keys', 'scan', ...sel(), '--json');
    expect(r.code).toBe(1); // a clone group, nothing pinned: work left to do
    const rows = jsonLines(r.out);
    const summary = rows.pop().summary;
    expect(rows).toHaveLength(GUESTS);
    expect(rows.every((x) => x.status === 'unknown' && x.cloneGroup === 1 && x.keys.length === 3)).toBe(true);
    expect(rows[0].keys.map((k: { type: string }) => k.type)).toEqual(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-rsa']);
    expect(summary.cloneGroups).toEqual([expect.objectContaining({ id: 1, size: GUESTS, hosts: 'guest[001-200]' })]);
    const table = await fleet('keys', 'scan', ...sel(), 'guest[001-003]');
    expect(table.out).toMatch(/^guest\[001-003\] \(3\) +127\.123\.0\.\[1-3\] +unknown +1 +ssh-ed25519 +SHA256:/m);
    expect(table.out).toContain('group 1: guest[001-003] (3 guests) share');
  });

  it('trust refuses to ask without a terminal, then pins every guest with --yes, flagging the clone group', async () => {
    const refused = await fleet('keys', 'trust', ...sel());
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/without a terminal.*--yes/);
    expect(existsSync(kh)).toBe(false);
    const r = await fleet('keys', 'trust', ...sel(), '--yes', '--hash');
    expect(r.code).toBe(0);
    expect(r.out).toContain('DANGER: 200 of them present keys another guest also presents');
    expect(r.out).toContain(`trust: pinned 600 keys of 200 guests in ${kh} (hashed names)`);
    expect(readFileSync(kh, 'utf8').split('\n').filter((l) => l.startsWith('|1|'))).toHaveLength(600);
    const scan = jsonLines((await fleet('keys', 'scan', ...sel(), '--json')).out);
    expect(scan.pop().summary).toMatchObject({ pinned: GUESTS, cloneGroups: [expect.objectContaining({ size: GUESTS })] });
  });

  it('rotate gives every guest its own keys; scan finds 200 distinct sets, all pinned; status says finished', async () => {
    const t0 = Date.now();
    const r = await fleet('keys', 'rotate', ...sel(), '--identity', emu.clientKeyPath, '--cloned-only', '--types', 'ed25519,ecdsa', '--yes', '--json');
    const rows = jsonLines(r.out);
    const summary = rows.pop().summary;
    expect(summary).toMatchObject({ done: GUESTS, total: GUESTS, ended: true });
    expect(r.code).toBe(0);
    console.log(`rotated ${GUESTS} guests in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const scan = jsonLines((await fleet('keys', 'scan', ...sel(), '--json')).out);
    const scanSummary = scan.pop().summary;
    expect(scanSummary).toMatchObject({ pinned: GUESTS, cloneGroups: [] });
    const fingerprints = scan.flatMap((x) => x.keys.map((k: { fingerprint: string }) => k.fingerprint));
    expect(fingerprints).toHaveLength(2 * GUESTS);
    expect(new Set(fingerprints).size).toBe(2 * GUESTS);
    // The file holds the new keys, hashed like the pins they replace (two lines per guest), and the
    // three golden keys, now pinned by nobody, revoked.
    const lines = readFileSync(kh, 'utf8').trim().split('\n');
    expect(lines.filter((l) => l.startsWith('|1|'))).toHaveLength(2 * GUESTS);
    expect(lines.filter((l) => l.startsWith('@revoked * '))).toHaveLength(3);
    expect(lines).toHaveLength(2 * GUESTS + 3);
    expect(summary.revoked).toHaveLength(3);

    const st = await fleet('keys', 'status', ...sel(), '--json');
    expect(st.code).toBe(0);
    expect(jsonLines(st.out).pop().summary).toMatchObject({ ended: true, done: GUESTS, total: GUESTS });
  }, 240_000); // 200 rotations: ~15 s on two idle cores, past a minute when they are shared

  it('the real ssh client with StrictHostKeyChecking=yes and our known_hosts reaches every guest', async () => {
    const limit = pLimit(8);
    const results = await Promise.all(
      emu.guests.map((g) => limit(() => runOpenssh({ state: emu.state, address: g.cfg.address, port: emu.port, user: emu.user, knownHosts: kh }, 'hostname'))),
    );
    const failed = results.map((r, i) => [emu.guests[i]!.name, r.exitCode, String(r.stdout).trim(), r.stderr]).filter(([name, code, out]) => code !== 0 || out !== name);
    expect(failed).toEqual([]);
  });

  it('a CHANGED key is refused (exit 3) and replaced only with --replace', async () => {
    await emu.setFault('hostkey@7');
    try {
      const scan = await fleet('keys', 'scan', ...sel(), 'guest007');
      expect(scan.code).toBe(3);
      expect(scan.out).toMatch(/guest007 .* CHANGED/);
      const kept = await fleet('keys', 'trust', ...sel(), 'guest007', '--yes');
      expect(kept.code).toBe(3);
      expect(kept.out).toMatch(/CHANGED guest007[\s\S]*pinned: +ssh-ed25519 SHA256:[\s\S]*presented: ssh-ed25519 SHA256:/);
      expect(kept.out).toContain('left as pinned');
      const noTty = await fleet('keys', 'trust', ...sel(), 'guest007', '--replace');
      expect(noTty.code).toBe(2);
      const replaced = await fleet('keys', 'trust', ...sel(), 'guest007', '--replace', '--yes');
      expect(replaced.code).toBe(0);
      expect((await fleet('keys', 'scan', ...sel(), 'guest007')).code).toBe(0);
    } finally {
      await emu.clearFaults();
    }
    // Its real key now differs from the pin: put it back the same deliberate way.
    expect((await fleet('keys', 'scan', ...sel(), 'guest007')).code).toBe(3);
    expect((await fleet('keys', 'trust', ...sel(), 'guest007', '--replace', '--yes')).code).toBe(0);
    expect((await fleet('run', ...sel(), '--identity', emu.clientKeyPath, 'guest007', '--', 'true')).code).toBe(0);
  });
});
