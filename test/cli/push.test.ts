// `fleet push` end to end, in-process through main(), against an emulated fleet.
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type TestFleet } from '../helpers/emulator.js';
import { fleet, jsonLines, statuses } from './cli-harness.js';

let tf: TestFleet;
let local: string;

beforeAll(async () => {
  tf = await startFleet({ guests: 8, subnet: '127.103.0.0/16', port: 2222 });
  mkdirSync(join(tf.state, 'local'));
  local = join(tf.state, 'local', 'motd');
  writeFileSync(local, 'welcome to the fleet\n');
});

afterAll(async () => {
  await tf?.stop();
});

const sel = () => ['-i', tf.emu.inventoryPath, '--identity', tf.emu.clientKeyPath];
const guestFile = (i: number, p: string) => join(tf.emu.guests[i - 1]!.cfg.dir, p);
const strays = (i: number, dir: string) => readdirSync(guestFile(i, dir)).filter((n) => /fleet-tmp|fleet-push/.test(n));

describe('fleet push', () => {
  it('changes every guest once, then reports them all unchanged', async () => {
    const first = await fleet('push', ...sel(), local, '/home/fleetadm/motd');
    expect(first.code).toBe(0);
    expect(first.out).toContain('guest[001-008] (8)');
    expect(first.out).toContain('changed: /home/fleetadm/motd');
    expect(first.out).toContain('push: 8 ok (8 changed, 0 unchanged) of 8');
    for (let i = 1; i <= 8; i++) expect(readFileSync(guestFile(i, 'home/fleetadm/motd'), 'utf8')).toBe('welcome to the fleet\n');
    const second = await fleet('push', ...sel(), '--json', local, '/home/fleetadm/motd');
    const rows = jsonLines(second.out);
    expect(rows.slice(0, 8).every((r) => r.status === 'ok' && r.changed === false)).toBe(true);
    expect(rows.at(-1)!.summary).toMatchObject({ ok: 8, total: 8, changed: 0, unchanged: 8 });
    const human = await fleet('push', ...sel(), local, '/home/fleetadm/motd');
    expect(human.out).toContain('unchanged: /home/fleetadm/motd already has this content');
  });

  it('pushes into a directory given with a trailing slash, for a selection only', async () => {
    const r = await fleet('push', ...sel(), 'guest00[2-3]', '--json', local, '/tmp/');
    expect(statuses(r.out)).toEqual({ guest002: 'ok', guest003: 'ok' });
    expect(readFileSync(guestFile(2, 'tmp/motd'), 'utf8')).toBe('welcome to the fleet\n');
  });

  it('installs into /etc with --sudo, --mode, --owner and --backup', async () => {
    const conf = join(tf.state, 'local', 'app.conf');
    writeFileSync(conf, 'level=1\n');
    const args = [...sel(), 'guest00[1-4]', '--sudo', '--mode', '0640', '--owner', 'root:fleetadm', '--backup'];
    expect((await fleet('push', ...args, conf, '/etc/app.conf')).code).toBe(0);
    writeFileSync(conf, 'level=2\n');
    const r = await fleet('push', ...args, '--json', conf, '/etc/app.conf');
    const rows = jsonLines(r.out);
    expect(rows[0]).toMatchObject({ status: 'ok', changed: true, backup: expect.stringMatching(/^\/etc\/app\.conf\.fleet-bak-\d{8}T\d{6}\.\d{3}Z$/) });
    for (let i = 1; i <= 4; i++) {
      const st = statSync(guestFile(i, 'etc/app.conf'));
      expect([readFileSync(guestFile(i, 'etc/app.conf'), 'utf8'), st.uid, st.gid, st.mode & 0o7777]).toEqual(['level=2\n', 0, 1000, 0o640]);
      expect(readFileSync(guestFile(i, rows[0]!.backup.slice(1)), 'utf8')).toBe('level=1\n');
      expect(strays(i, 'etc')).toEqual([]);
      expect(strays(i, 'tmp')).toEqual([]);
    }
    const human = await fleet('push', ...args, conf, '/etc/app.conf');
    expect(human.out).toContain('push: 4 ok (0 changed, 4 unchanged) of 4');
  });

  it('names host, file and step when a guest cannot take the file, and exits 1', async () => {
    mkdirSync(guestFile(5, 'home/fleetadm/conf.d'));
    chownSync(guestFile(5, 'home/fleetadm/conf.d'), 1000, 1000);
    const r = await fleet('push', ...sel(), 'guest00[5-6]', local, '/home/fleetadm/conf.d/motd');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^guest005 \(1\)\n-+\nchanged: /m);
    expect(r.out).toMatch(/ failed +guest006 \(1\)\n +guest006: \/home\/fleetadm\/conf.d\/motd: upload: no such directory: \/home\/fleetadm\/conf.d\n/);
    const denied = await fleet('push', ...sel(), 'guest005', '--json', local, '/etc/motd');
    expect(jsonLines(denied.out)[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/^guest005: \/etc\/motd: upload: cannot create \/etc\/\.motd\.fleet-tmp-[0-9a-f]{12}: Permission denied$/) });
  });

  it('classifies every fault and finishes within the timeouts', async () => {
    await tf.emu.setFault('refuse@1');
    await tf.emu.setFault('hang@2');
    await tf.emu.setFault('auth-reject@3');
    await tf.emu.setFault('hostkey@4');
    await tf.emu.setFault('drop:1@5');
    await tf.emu.setFault('slow:5000@6');
    try {
      const t0 = Date.now();
      const r = await fleet('push', ...sel(), '--json', '--connect-timeout', '2', '--timeout', '3', local, '/home/fleetadm/faults');
      expect(Date.now() - t0).toBeLessThan(12_000);
      expect(statuses(r.out)).toEqual({
        guest001: 'unreachable', guest002: 'timeout', guest003: 'auth-refused', guest004: 'hostkey-refused',
        guest005: 'unreachable', guest006: 'timeout', guest007: 'ok', guest008: 'ok',
      });
      expect(r.code).toBe(3);
    } finally {
      await tf.emu.clearFaults();
    }
    expect(strays(6, 'home/fleetadm')).toEqual([]);
  });

  it('leaves the old file and no temporary file when the link drops mid-transfer', async () => {
    const big = join(tf.state, 'local', 'big.bin');
    writeFileSync(big, randomBytes(192 << 20));
    writeFileSync(guestFile(5, 'home/fleetadm/big.bin'), 'old');
    // drop cuts the link a fixed time after each guest process starts: above what the check takes here.
    const probe = jsonLines((await fleet('run', ...sel(), 'guest005', '--json', '--', 'true')).out)[0]!;
    await tf.emu.setFault(`drop:${Math.max(300, 3 * probe.durationMs)}@5`);
    try {
      const r = await fleet('push', ...sel(), 'guest005', '--json', big, '/home/fleetadm/big.bin');
      expect(jsonLines(r.out)[0]).toMatchObject({
        // Then checked over a new connection (which the drop may cut too: then the outcome is unknown).
        status: 'unreachable',
        error: expect.stringMatching(/^guest005: \/home\/fleetadm\/big\.bin: upload: connection lost; (.*; )?(verified over a new connection: the file does not have the new content|outcome unknown)/),
      });
    } finally {
      await tf.emu.clearFaults();
    }
    expect(readFileSync(guestFile(5, 'home/fleetadm/big.bin'), 'utf8')).toBe('old');
    expect(strays(5, 'home/fleetadm')).toEqual([]);
  });

  it('stops before the next batch once the failure budget is exceeded', async () => {
    const r = await fleet('push', ...sel(), '--json', '--batch', '2', '--max-fail', '1', local, '/nonexistent/dir/motd');
    expect(jsonLines(r.out).at(-1)!.summary).toMatchObject({ failed: 2, notRun: 6, total: 8 });
    expect(r.code).toBe(1);
  });

  it('exits 2 for a missing local file, a bad mode or owner, or missing arguments', async () => {
    const missing = await fleet('push', ...sel(), join(tf.state, 'nope'), '/tmp/x');
    expect([missing.code, missing.err]).toEqual([2, expect.stringContaining('nope: cannot push: no such file')]);
    expect((await fleet('push', ...sel(), '--mode', 'rw', local, '/tmp/x')).code).toBe(2);
    expect((await fleet('push', ...sel(), '--owner', 'a b', local, '/tmp/x')).code).toBe(2);
    expect((await fleet('push', ...sel(), local)).code).toBe(2);
  });
});
