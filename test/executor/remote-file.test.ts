// readRemoteFile / writeRemoteFile against emulated guests: atomic replacement, skip when unchanged,
// mode/owner/backup, sudo, and what is left on a guest when the link dies mid-transfer.
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, lstatSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRemoteFile, StepError, writeRemoteFile } from '../../src/executor/index.js';
import { loadKnownHosts, SshConnection, type KnownHosts } from '../../src/ssh/index.js';
import { startFleet, type TestFleet } from '../helpers/emulator.js';

let fleet: TestFleet;
let kh: KnownHosts;

beforeAll(async () => {
  fleet = await startFleet({ guests: 4, subnet: '127.102.0.0/16', port: 2222 });
  kh = await loadKnownHosts(fleet.emu.knownHostsPath);
});

afterAll(async () => {
  await fleet?.stop();
});

function connectTo(index: number, user = fleet.emu.user): Promise<SshConnection> {
  const g = fleet.emu.guests[index - 1]!;
  return SshConnection.connect({
    name: g.name, address: g.cfg.address, port: fleet.emu.port, knownHosts: kh,
    credentials: { username: user, privateKey: fleet.clientKey }, connectTimeoutMs: 10_000,
  });
}

async function on<T>(index: number, work: (c: SshConnection) => Promise<T>, user?: string): Promise<T> {
  const c = await connectTo(index, user);
  try {
    return await work(c);
  } finally {
    c.close();
  }
}

/** A path inside guest `index`'s root, as the host sees it. */
const hostPath = (index: number, p: string) => join(fleet.emu.guests[index - 1]!.cfg.dir, p);
const leftovers = (index: number, dir: string) => readdirSync(hostPath(index, dir)).filter((n) => n.includes('fleet-tmp') || n.startsWith('.fleet-push'));

describe('readRemoteFile', () => {
  it('returns the bytes, or undefined for a missing file', async () => {
    writeFileSync(hostPath(1, 'home/fleetadm/r.bin'), Buffer.from([0, 1, 2, 255, 10]));
    await on(1, async (c) => {
      expect(await readRemoteFile(c, '/home/fleetadm/r.bin', {})).toEqual(Buffer.from([0, 1, 2, 255, 10]));
      expect(await readRemoteFile(c, '/home/fleetadm/missing', {})).toBeUndefined();
    });
  });

  it('reads a root-only file under sudo, and names host, file and step when it cannot', async () => {
    await on(1, async (c) => {
      const shadow = await readRemoteFile(c, '/etc/shadow', { sudo: true });
      expect(shadow!.toString()).toMatch(/^root:/);
      expect(await readRemoteFile(c, '/root/missing', { sudo: true })).toBeUndefined();
      const err = await readRemoteFile(c, '/etc/shadow', {}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StepError);
      expect((err as StepError).message).toMatch(/^guest001: \/etc\/shadow: read: exit status 1: .*Permission denied/);
    });
  });
});

describe.each(['stream', 'sftp'] as const)('writeRemoteFile (%s)', (transfer) => {
  const H = (name: string) => `/home/fleetadm/${transfer}-${name}`;
  const h = (name: string) => `home/fleetadm/${transfer}-${name}`;
  it('creates, then skips an identical file, keeping the mode of the old one', async () => {
    await on(2, async (c) => {
      const data = Buffer.from('one\n');
      expect(await writeRemoteFile(c, H('a.txt'), data, { transfer })).toEqual({ changed: true });
      expect(readFileSync(hostPath(2, h('a.txt')), 'utf8')).toBe('one\n');
      expect(statSync(hostPath(2, h('a.txt'))).mode & 0o777).toBe(0o644); // 0666 less the umask 022
      expect(await writeRemoteFile(c, H('a.txt'), data, { transfer })).toEqual({ changed: false });
      // A secret stays secret when it is replaced without --mode.
      await writeRemoteFile(c, H('a.txt'), data, { mode: 0o600, transfer });
      expect(await writeRemoteFile(c, H('a.txt'), Buffer.from('two\n'), { transfer })).toEqual({ changed: true });
      expect(statSync(hostPath(2, h('a.txt'))).mode & 0o777).toBe(0o600);
      expect(leftovers(2, 'home/fleetadm')).toEqual([]);
    });
  });

  it('changes only the mode when the content is the same, and reports that as a change', async () => {
    await on(2, async (c) => {
      await writeRemoteFile(c, H('m.txt'), Buffer.from('m'), { mode: 0o644, transfer });
      const ino = statSync(hostPath(2, h('m.txt'))).ino;
      expect(await writeRemoteFile(c, H('m.txt'), Buffer.from('m'), { mode: 0o640, transfer })).toEqual({ changed: true });
      expect(statSync(hostPath(2, h('m.txt')))).toMatchObject({ ino, mode: expect.any(Number) });
      expect(statSync(hostPath(2, h('m.txt'))).mode & 0o777).toBe(0o640);
      expect(await writeRemoteFile(c, H('m.txt'), Buffer.from('m'), { mode: 0o640, transfer })).toEqual({ changed: false });
    });
  });

  it('keeps the previous version with --backup, only when there is one', async () => {
    await on(2, async (c) => {
      const first = await writeRemoteFile(c, H('b.txt'), Buffer.from('old'), { backup: true, backupSuffix: 'S1', transfer });
      expect(first).toEqual({ changed: true });
      const second = await writeRemoteFile(c, H('b.txt'), Buffer.from('new'), { backup: true, backupSuffix: 'S2', transfer });
      expect(second).toEqual({ changed: true, backup: `${H('b.txt')}.fleet-bak-S2` });
      expect(readFileSync(hostPath(2, `${h('b.txt')}.fleet-bak-S2`), 'utf8')).toBe('old');
      expect(readFileSync(hostPath(2, h('b.txt')), 'utf8')).toBe('new');
      expect(await writeRemoteFile(c, H('b.txt'), Buffer.from('new'), { backup: true, backupSuffix: 'S3', transfer })).toEqual({ changed: false });
      expect(existsSync(hostPath(2, `${h('b.txt')}.fleet-bak-S3`))).toBe(false);
    });
  });

  it('installs as root under sudo with mode, owner and backup, leaving no temporary file', async () => {
    await on(3, async (c) => {
      const opts = { sudo: true, mode: 0o640, owner: 'root:fleetadm', backup: true, backupSuffix: 'X', transfer };
      expect(await writeRemoteFile(c, `/etc/fleet-test-${transfer}.conf`, Buffer.from('a=1\n'), opts)).toEqual({ changed: true });
      const st = statSync(hostPath(3, `etc/fleet-test-${transfer}.conf`));
      expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([0, 1000, 0o640]);
      expect(await writeRemoteFile(c, `/etc/fleet-test-${transfer}.conf`, Buffer.from('a=1\n'), opts)).toEqual({ changed: false });
      expect(await writeRemoteFile(c, `/etc/fleet-test-${transfer}.conf`, Buffer.from('a=2\n'), { ...opts, owner: undefined, mode: undefined }))
        .toEqual({ changed: true, backup: `/etc/fleet-test-${transfer}.conf.fleet-bak-X` });
      // Without --owner/--mode the replacement keeps the old file's owner and mode.
      const st2 = statSync(hostPath(3, `etc/fleet-test-${transfer}.conf`));
      expect([st2.uid, st2.gid, st2.mode & 0o7777]).toEqual([0, 1000, 0o640]);
      expect(readFileSync(hostPath(3, `etc/fleet-test-${transfer}.conf.fleet-bak-X`), 'utf8')).toBe('a=1\n');
      expect(leftovers(3, 'etc')).toEqual([]);
      expect(leftovers(3, 'tmp')).toEqual([]);
    });
  });

  it('sets the owner without sudo through the exec path when allowed (own user)', async () => {
    await on(3, async (c) => {
      expect(await writeRemoteFile(c, H('o.txt'), Buffer.from('o'), { owner: 'fleetadm:fleetadm', mode: 0o600, transfer })).toEqual({ changed: true });
      const st = statSync(hostPath(3, h('o.txt')));
      expect([st.uid, st.mode & 0o777]).toEqual([1000, 0o600]);
      const err = await writeRemoteFile(c, H('o.txt'), Buffer.from('p'), { owner: 'root', transfer }).catch((e: unknown) => e);
      expect(err).toMatchObject({ step: 'install', status: 'failed', path: H('o.txt') });
      expect(readFileSync(hostPath(3, h('o.txt')), 'utf8')).toBe('o');
      expect(leftovers(3, 'home/fleetadm')).toEqual([]);
    });
  });

  it('fails with the step and reason, and nothing left behind, when it cannot write', async () => {
    await on(3, async (c) => {
      const noDir = await writeRemoteFile(c, '/home/fleetadm/no/such/dir/f', Buffer.from('x'), { transfer }).catch((e: unknown) => e);
      expect(noDir).toBeInstanceOf(StepError);
      expect((noDir as StepError).message).toMatch(/^guest003: \/home\/fleetadm\/no\/such\/dir\/f: upload: (no such file|no such directory)/i);
      const denied = await writeRemoteFile(c, '/etc/denied.conf', Buffer.from('x'), { transfer }).catch((e: unknown) => e);
      expect(denied).toMatchObject({ step: 'upload', status: 'failed' });
      expect((denied as StepError).message).toMatch(/permission denied/i);
      const dir = await writeRemoteFile(c, '/etc', Buffer.from('x'), { transfer }).catch((e: unknown) => e);
      expect((dir as StepError).message).toMatch(/check: is a directory/);
    });
    // A user without sudo: refused at the first step, not a password prompt, no upload left in /tmp.
    await on(3, async (c) => {
      const err = await writeRemoteFile(c, '/etc/x.conf', Buffer.from('x'), { sudo: true, transfer }).catch((e: unknown) => e);
      expect(err).toMatchObject({ step: 'check', status: 'failed' });
      expect((err as StepError).message).toMatch(/sudo/);
    }, 'operator');
    expect(leftovers(3, 'tmp')).toEqual([]);
  });

  it('never shows a partial file: readers see the old content or the new, never a mix', async () => {
    const a = Buffer.alloc(4 << 20, 'a');
    const b = Buffer.alloc(4 << 20, 'b');
    const target = hostPath(4, h('big.bin'));
    writeFileSync(target, a);
    chownSync(target, 1000, 1000);
    const seen = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const d = readFileSync(target);
        seen.add(d.length === a.length && (d.equals(a) || d.equals(b)) ? d.subarray(0, 1).toString() : `partial:${d.length}`);
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      await on(4, async (c) => {
        for (let i = 0; i < 6; i++) await writeRemoteFile(c, H('big.bin'), i % 2 ? a : b, { transfer });
      });
    } finally {
      watching = false;
      await watcher;
    }
    expect([...seen].sort()).toEqual(['a', 'b']);
  });

  it('keeps the old file and leaves no temporary file when the link drops mid-transfer', async () => {
    const target = hostPath(4, h('drop.bin'));
    writeFileSync(target, 'old content');
    const big = randomBytes(256 << 20);
    // The fault cuts the link a fixed time after each guest process starts, the check's too: make that
    // time well above what a check takes here, and well below what 256 MiB take to upload (both
    // measured now, so a loaded machine moves both bounds alike).
    const t0 = Date.now();
    await on(4, (c) => readRemoteFile(c, H('drop.bin'), {}));
    const check = Date.now() - t0;
    const t1 = Date.now();
    await on(4, (c) => writeRemoteFile(c, H('drop-probe.bin'), big.subarray(0, 32 << 20), { transfer }));
    const upload32 = Date.now() - t1; // an eighth of the upload below, its check included
    await fleet.emu.setFault(`drop:${Math.max(300, 4 * check, 2 * upload32)}@4`);
    try {
      const err = await on(4, (c) => writeRemoteFile(c, H('drop.bin'), big, { transfer }).catch((e: unknown) => e));
      expect(err).toMatchObject({ status: 'unreachable', step: 'upload', host: 'guest004' });
      expect((err as StepError).message).not.toMatch(/may remain/);
    } finally {
      await fleet.emu.clearFaults();
    }
    expect(readFileSync(target, 'utf8')).toBe('old content');
    expect(lstatSync(target).isFile()).toBe(true);
    expect(leftovers(4, 'home/fleetadm')).toEqual([]);
  });
});
