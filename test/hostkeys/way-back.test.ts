// The way back for a guest presenting the revoked golden key (a new clone, a snapshot restore):
// `keys rotate --console CMD` regenerates its keys through the console, never over SSH; and
// `keys trust --confirm-with CMD` re-enrols guests only with keys another channel confirms.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { fleet, jsonLines } from '../cli/cli-harness.js';
import { fingerprintSha256 } from '../../src/ssh/index.js';
import { useFleet } from '../helpers/emulator.js';
import { adminKnownHosts } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/fleet', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const F = useFleet({ guests: 4, subnet: '127.167.128.0/17' });
let kh: string;
const fleetCmd = () => `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} emulator console --state ${JSON.stringify(F().state)} "$FLEET_HOST"`;
const sel = (file = kh) => ['-i', F().emu.inventoryPath, '--known-hosts', file, '--identity', F().emu.clientKeyPath];
const golden = (type: string) => readFileSync(join(F().state, 'golden', 'etc', 'ssh', `ssh_host_${type}_key.pub`), 'utf8').split(' ')[1]!;

beforeAll(async () => {
  expect(existsSync(BUILT), 'run `npm run build` first: the console runs bin/fleet').toBe(true);
  kh = adminKnownHosts(F().emu);
  // Every guest still serves the golden image's keys, and they have been revoked.
  for (const t of ['ed25519', 'ecdsa', 'rsa']) {
    const r = await fleet('keys', 'revoke', fingerprintSha256(Buffer.from(golden(t), 'base64')), ...sel(), '--yes');
    expect(r.code, r.err).toBe(0);
  }
});

describe('a guest presenting the revoked golden key has a way back', () => {
  it('without a console, rotate skips it and says how to bring it back', async () => {
    const r = await fleet('keys', 'rotate', ...sel(), 'guest001', '--types', 'ed25519,ecdsa', '--journal', join(F().state, 'a.jsonl'), '--yes');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/guest001: it presents a REVOKED key, so no SSH session with it can be trusted; .*--console CMD/);
  });

  it('with --console, its keys are regenerated through the console, pinned, and a strict scan passes', async () => {
    const r = await fleet('keys', 'rotate', ...sel(), 'guest[001-002]', '--types', 'ed25519,ecdsa',
      '--console', `${fleetCmd()} --stdin -- sh`, '--journal', join(F().state, 'b.jsonl'), '--yes', '--json');
    expect(r.code, r.out + r.err).toBe(0);
    expect(jsonLines(r.out).pop()!.summary).toMatchObject({ done: 2, total: 2, ended: true });
    const scan = await fleet('keys', 'scan', ...sel(), 'guest[001-002]', '--json');
    expect(scan.code, scan.out).toBe(0);
    const rows = jsonLines(scan.out).filter((x) => x.host);
    expect(rows.map((x) => [x.host, x.status, x.keys.length])).toEqual([['guest001', 'pinned', 2], ['guest002', 'pinned', 2]]);
    // What is pinned is what the guest really holds (read through the console), not the golden key.
    const real = (await F().emu.guest('guest001').consoleExec('cat /etc/ssh/ssh_host_ed25519_key.pub')).stdout.toString().split(' ')[1]!;
    expect(real).not.toBe(golden('ed25519'));
    expect(readFileSync(kh, 'utf8')).toContain(real);
    expect((await fleet('run', ...sel(), 'guest[001-002]', '--', 'true')).code).toBe(0);
  });

  it('trust --confirm-with re-enrols only guests whose keys the console shows, without asking', async () => {
    const fresh = join(F().state, 'fresh_known_hosts');
    writeFileSync(fresh, ''); // nothing pinned yet
    const cat = `${fleetCmd()} -- 'cat /etc/ssh/ssh_host_*_key.pub'`;
    // guest002's channel shows nothing: it must not be pinned.
    const onlyFirst = `[ "$FLEET_HOST" = guest001 ] && ${cat}`;
    const r = await fleet('keys', 'trust', ...sel(fresh), 'guest[001-002]', '--confirm-with', onlyFirst);
    expect(r.code, r.err).toBe(3);
    expect(r.out).toContain('confirmed through --confirm-with: guest001 (1)');
    expect(r.out).toMatch(/NOT CONFIRMED, not pinned \(1\):\n {2}guest002: the confirmation command failed/);
    expect(r.out).toContain('trust: pinned 2 keys of 1 guests');
    const scan = jsonLines((await fleet('keys', 'scan', ...sel(fresh), 'guest[001-002]', '--json')).out).filter((x) => x.host);
    expect(scan.map((x) => [x.host, x.status])).toEqual([['guest001', 'pinned'], ['guest002', 'unknown']]);
    const all = await fleet('keys', 'trust', ...sel(fresh), 'guest002', '--confirm-with', cat);
    expect(all.code, all.out).toBe(0);
  });
});
