// SFTP on an emulated guest: the machine's sftp-server run inside the guest's sandbox as the login
// user. Transfers land in the guest; `..` and symlinks resolve inside the guest's view; permissions hold.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectGuest, startFleet, type TestFleet } from '../helpers/emulator.js';
import type { SshSession } from '../helpers/ssh-client.js';

let fleet: TestFleet | undefined;
let session: SshSession | undefined;
let sftp: SFTPWrapper | undefined;
let local: string | undefined;
const F = () => fleet!;
const S = () => sftp!;
const guestDir = (i: number) => F().emu.guests[i - 1]!.cfg.dir;

// SFTP status codes (draft-ietf-secsh-filexfer-02): what sftp-server answers.
const NO_SUCH_FILE = 2;
const PERMISSION_DENIED = 3;
const FAILURE = 4;

beforeAll(async () => {
  local = mkdtempSync(join(tmpdir(), 'clonefleet-sftp-local-'));
  fleet = await startFleet({ guests: 3, subnet: '127.83.0.0/16', hostCapacity: 1 });
  session = await connectGuest(fleet, 1);
  sftp = await session.sftp();
});
afterAll(async () => {
  sftp?.end();
  session?.close();
  await fleet?.stop();
  if (local) rmSync(local, { recursive: true, force: true });
});

function call<T>(fn: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
}
const readFile = (path: string) => call<Buffer>((cb) => S().readFile(path, cb));
const writeFile = (path: string, data: Buffer | string) => call<void>((cb) => S().writeFile(path, data, (err) => cb(err)));
const readdir = (path: string) => call<{ filename: string }[]>((cb) => S().readdir(path, cb));
const realpath = (path: string) => call<string>((cb) => S().realpath(path, cb));

/** The SFTP status code a failing call answers with. */
async function sftpCode(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: number }).code;
  }
  throw new Error('the SFTP call succeeded');
}

describe('SFTP on a guest', () => {
  it('uploads into the guest and downloads back', async () => {
    const data = randomBytes(300_000);
    await writeFile('/tmp/upload.bin', data);
    const onHost = join(guestDir(1), 'tmp', 'upload.bin');
    expect(readFileSync(onHost).equals(data)).toBe(true);
    expect(statSync(onHost).uid).toBe(1000); // written as fleetadm
    expect(existsSync(join(guestDir(2), 'tmp', 'upload.bin'))).toBe(false);
    expect((await readFile('/tmp/upload.bin')).equals(data)).toBe(true);
    expect((await readFile('/etc/hostname')).toString()).toBe('guest001\n');
  });

  it('moves files with fastPut/fastGet', async () => {
    const src = join(local!, 'src.bin');
    const back = join(local!, 'back.bin');
    writeFileSync(src, randomBytes(1 << 20));
    await call<void>((cb) => S().fastPut(src, '/tmp/fast.bin', (err) => cb(err)));
    await call<void>((cb) => S().fastGet('/tmp/fast.bin', back, (err) => cb(err)));
    expect(readFileSync(back).equals(readFileSync(src))).toBe(true);
    expect(readFileSync(join(guestDir(1), 'tmp', 'fast.bin')).equals(readFileSync(src))).toBe(true);
  });

  it('uploads into the login user\'s home', async () => {
    await writeFile('/home/fleetadm/from-sftp.txt', 'home\n');
    expect(readFileSync(join(guestDir(1), 'home', 'fleetadm', 'from-sftp.txt'), 'utf8')).toBe('home\n');
  });

  it('keeps `..` inside the guest\'s view', async () => {
    expect(await realpath('/tmp/../../../..')).toBe('/');
    expect((await readFile('/tmp/../../../etc/hostname')).toString()).toBe('guest001\n');
    const state = F().state;
    expect(await sftpCode(readFile(`/tmp/../..${state}/id_ed25519`))).toBe(NO_SUCH_FILE);
    expect(await sftpCode(readdir(`/../../..${state}/guests`))).toBe(NO_SUCH_FILE);
    expect(await sftpCode(readFile(`${guestDir(2)}/etc/hostname`))).toBe(NO_SUCH_FILE);
  });

  it('resolves symlinks inside the guest\'s view: links to the state or another guest show nothing', async () => {
    const state = F().state;
    const ln = await session!.exec(
      [`ln -s '${state}' /tmp/to-state`, `ln -s '${state}/id_ed25519' /tmp/to-key`, `ln -s '${guestDir(2)}' /tmp/to-guest2`, 'ln -s /etc/hostname /tmp/to-hostname'].join(' && '),
    );
    expect(ln).toMatchObject({ code: 0, stderr: '' });
    await call<void>((cb) => S().symlink(`${state}/golden/etc/ssh/ssh_host_ed25519_key`, '/tmp/to-golden-key', (err) => cb(err)));
    expect(await call<string>((cb) => S().readlink('/tmp/to-golden-key', cb))).toBe(`${state}/golden/etc/ssh/ssh_host_ed25519_key`);

    expect((await readFile('/tmp/to-hostname')).toString()).toBe('guest001\n'); // links do work
    expect(await sftpCode(readFile('/tmp/to-key'))).toBe(NO_SUCH_FILE);
    expect(await sftpCode(readFile('/tmp/to-state/id_ed25519'))).toBe(NO_SUCH_FILE);
    expect(await sftpCode(readdir('/tmp/to-state'))).toBe(NO_SUCH_FILE);
    expect(await sftpCode(readFile('/tmp/to-guest2/etc/hostname'))).toBe(NO_SUCH_FILE);
    expect(await sftpCode(readFile('/tmp/to-golden-key'))).toBe(NO_SUCH_FILE);
    // And writing through a link to another guest creates nothing there.
    expect(await sftpCode(writeFile('/tmp/to-guest2/tmp/planted', 'x'))).toBe(NO_SUCH_FILE);
    expect(existsSync(join(guestDir(2), 'tmp', 'planted'))).toBe(false);
  });

  it('honours permissions: fleetadm cannot read /etc/shadow nor write /etc or /usr', async () => {
    expect(await sftpCode(readFile('/etc/shadow'))).toBe(PERMISSION_DENIED);
    expect(await sftpCode(writeFile('/etc/planted', 'x'))).toBe(PERMISSION_DENIED);
    expect(existsSync(join(guestDir(1), 'etc', 'planted'))).toBe(false);
    expect(await sftpCode(writeFile('/etc/passwd', 'x'))).toBe(PERMISSION_DENIED);
    expect(readFileSync(join(guestDir(1), 'etc', 'passwd'), 'utf8')).toMatch(/^root:/);
    expect([PERMISSION_DENIED, FAILURE]).toContain(await sftpCode(writeFile('/usr/planted', 'x')));
    expect(existsSync('/usr/planted')).toBe(false);
    expect((await readFile('/etc/passwd')).toString()).toMatch(/^fleetadm:/m); // readable files are
  });

  it('does not make SFTP wait for the host model: transfers run while a command holds the only slot', async () => {
    const holder = await connectGuest(F(), 2);
    try {
      const channel = await holder.start('echo holding; sleep 20');
      channel.stderr.resume();
      await new Promise((resolve) => channel.once('data', resolve));
      expect(F().emu.status().hostModel).toMatchObject({ capacity: 1, running: 1 });
      const fresh = await session!.sftp();
      try {
        const t0 = performance.now();
        const data = await call<Buffer>((cb) => fresh.readFile('/etc/hostname', cb));
        expect(data.toString()).toBe('guest001\n');
        expect(performance.now() - t0).toBeLessThan(3000);
        expect(F().emu.status().hostModel.queueNow).toBe(0);
      } finally {
        fresh.end();
      }
      // A command, by contrast, waits for the slot.
      const waiting = session!.exec('echo ran', { timeoutMs: 15_000 });
      await new Promise((r) => setTimeout(r, 300));
      expect(F().emu.status().hostModel.queueNow).toBe(1);
      channel.close();
      expect((await waiting).stdout).toBe('ran\n');
    } finally {
      holder.close();
    }
  });
});
