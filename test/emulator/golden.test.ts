// Clones of the golden image: by default every guest serves the image's host keys and machine-id
// (the field's problem); with uniqueKeys each guest gets its own. Clones keep the image's ownership.
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectGuest, knownHostsLines, runOn, startFleet, type TestFleet } from '../helpers/emulator.js';
import { fingerprint, presentedHostKey } from '../helpers/ssh-client.js';

let cloned: TestFleet | undefined;
let unique: TestFleet | undefined;
const GUESTS = 4;
const indexes = Array.from({ length: GUESTS }, (_, i) => i + 1);

beforeAll(async () => {
  [cloned, unique] = await Promise.all([
    startFleet({ guests: GUESTS, subnet: '127.84.0.0/16' }),
    startFleet({ guests: GUESTS, subnet: '127.85.0.0/16', uniqueKeys: true }),
  ]);
});
afterAll(async () => {
  await Promise.all([cloned?.stop(), unique?.stop()]);
});

const presented = (f: TestFleet) => Promise.all(f.emu.guests.map((g) => presentedHostKey(g.cfg.address, f.emu.port)));
/** A guest's known_hosts lines without the host pattern: `type blob`. */
const keysOf = (f: TestFleet, i: number) => knownHostsLines(f, i).map((l) => l.split(' ').slice(1).join(' '));
const machineIds = (f: TestFleet) => Promise.all(indexes.map(async (i) => (await runOn(f, i, 'cat /etc/machine-id')).stdout));

describe('cloned guests (default)', () => {
  it('all present the same host key, the one known_hosts pins for each', async () => {
    const keys = await presented(cloned!);
    expect(new Set(keys.map(fingerprint)).size).toBe(1);
    for (const i of indexes) expect(keysOf(cloned!, i).map((l) => l.split(' ')[1])).toContain(keys[i - 1]);
  });

  it('all have the same known_hosts keys (ed25519, ECDSA and RSA)', () => {
    const first = keysOf(cloned!, 1);
    expect(first.map((l) => l.split(' ')[0]).sort()).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519', 'ssh-rsa']);
    for (const i of indexes) expect(keysOf(cloned!, i)).toEqual(first);
    expect(cloned!.emu.publicHostKeys(cloned!.emu.guests[GUESTS - 1]!)).toEqual(first);
  });

  it('all share one machine-id', async () => {
    const ids = await machineIds(cloned!);
    expect(ids[0]).toMatch(/^[0-9a-f]{32}\n$/);
    expect(new Set(ids).size).toBe(1);
  });

  it('keep the golden image\'s file ownership (homes belong to their users)', () => {
    const golden = join(cloned!.state, 'golden');
    const guest = cloned!.emu.guests[0]!.cfg.dir;
    const differ: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        const rel = relative(golden, p);
        const a = lstatSync(p);
        const b = lstatSync(join(guest, rel));
        if (a.uid !== b.uid || a.gid !== b.gid) differ.push(`${rel}: golden ${a.uid}:${a.gid}, guest ${b.uid}:${b.gid}`);
        if (a.isDirectory()) walk(p);
      }
    };
    walk(golden);
    expect(differ).toEqual([]);
  });
});

describe('unique keys (uniqueKeys: true)', () => {
  it('every guest presents its own host key, and known_hosts pins it', async () => {
    const keys = await presented(unique!);
    expect(new Set(keys.map(fingerprint)).size).toBe(GUESTS);
    for (const i of indexes) {
      expect(keysOf(unique!, i).map((l) => l.split(' ')[1])).toContain(keys[i - 1]);
      const s = await connectGuest(unique!, i);
      expect(s.hostKey).toBe(keys[i - 1]);
      s.close();
    }
  });

  it('every guest has different known_hosts keys, none of them the golden image\'s', () => {
    const all = indexes.flatMap((i) => keysOf(unique!, i));
    expect(new Set(all).size).toBe(all.length);
    expect(keysOf(unique!, 1).map((l) => l.split(' ')[0]).sort()).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519']);
    const ssh = join(unique!.state, 'golden', 'etc', 'ssh');
    const goldenKeys = readdirSync(ssh)
      .filter((f) => f.endsWith('.pub'))
      .map((f) => readFileSync(join(ssh, f), 'utf8').split(' ').slice(0, 2).join(' '));
    expect(goldenKeys).toHaveLength(3);
    for (const k of all) expect(goldenKeys).not.toContain(k);
  });

  it('every guest has its own machine-id', async () => {
    const ids = await machineIds(unique!);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}\n$/);
    expect(new Set(ids).size).toBe(GUESTS);
  });

  it('a key pinned for one guest does not let a client into another', async () => {
    const pins = knownHostsLines(unique!, 1).map((l) => l.split(' ')[2]!);
    await expect(connectGuest(unique!, 2, { pins })).rejects.toThrow(/Host denied/);
  });
});
