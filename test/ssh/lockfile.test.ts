import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, utimes, writeFile, chmod } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLock, LockHeldError, withLock, writeFileAtomic } from '../../src/ssh/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-lock-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const exists = (path: string) => stat(path).then(() => true, () => false);

/** A pid that surely belongs to no running process: one of a child that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid!;
}

describe('acquireLock', () => {
  it('creates <target>.lock holding our pid and removes it on release', async () => {
    const target = join(dir, 'a');
    const lock = await acquireLock(target);
    expect(lock.path).toBe(`${target}.lock`);
    expect((await readFile(lock.path, 'utf8')).split('\n').slice(0, 2)).toEqual([String(process.pid), hostname()]);
    await lock.release();
    expect(await exists(lock.path)).toBe(false);
    await lock.release();
  });

  it('makes a second taker wait until the first releases', async () => {
    const target = join(dir, 'b');
    const first = await acquireLock(target);
    let got = false;
    const second = acquireLock(target, { retryMs: 10 }).then((l) => {
      got = true;
      return l;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toBe(false);
    await first.release();
    const lock = await second;
    expect(got).toBe(true);
    await lock.release();
  });

  it('times out while a live process holds the lock', async () => {
    const target = join(dir, 'c');
    const lock = await acquireLock(target);
    const started = Date.now();
    await expect(acquireLock(target, { timeoutMs: 120, retryMs: 10 })).rejects.toThrow(
      new RegExp(`timed out after 120 ms .*held by pid ${process.pid}`),
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    await lock.release();
  });

  it('breaks a lock whose holder died, leaving nothing behind', async () => {
    const target = join(dir, 'd');
    await writeFile(`${target}.lock`, `${deadPid()}\n${hostname()}\nsometoken\n`);
    const lock = await acquireLock(target, { timeoutMs: 1_000 });
    expect((await readFile(lock.path, 'utf8')).startsWith(`${process.pid}\n`)).toBe(true);
    await lock.release();
    expect((await readdir(dir)).filter((f) => f.startsWith('d'))).toEqual([]);
  });

  it('does not break a lock held from another machine', async () => {
    const target = join(dir, 'e');
    await writeFile(`${target}.lock`, `${deadPid()}\nsome-other-host.invalid\ntoken\n`);
    await expect(acquireLock(target, { timeoutMs: 100, retryMs: 10 })).rejects.toThrow(/some-other-host/);
    await rm(`${target}.lock`);
  });

  it('breaks an empty lock file only once it is old', async () => {
    const target = join(dir, 'f');
    await writeFile(`${target}.lock`, '');
    await expect(acquireLock(target, { timeoutMs: 100, retryMs: 10 })).rejects.toThrow(/timed out/);
    const old = new Date(Date.now() - 60_000);
    await utimes(`${target}.lock`, old, old);
    const lock = await acquireLock(target, { timeoutMs: 1_000 });
    await lock.release();
  });

  it('does not remove a lock that is no longer ours', async () => {
    const target = join(dir, 'g');
    const lock = await acquireLock(target);
    await writeFile(lock.path, `${process.pid}\n${hostname()}\nsomeone-else\n`);
    await lock.release();
    expect(await exists(lock.path)).toBe(true);
    await rm(lock.path);
  });

  it('is one lock for a file however its path is spelled: through a symlink, a linked directory or ..', async () => {
    const real = join(dir, 'shared');
    await writeFile(real, 'pins');
    await symlink(real, join(dir, 'shared-link'));
    await mkdir(join(dir, 'sub'));
    await symlink(dir, join(dir, 'dir-link'));
    const lock = await acquireLock(real);
    expect(lock.path).toBe(`${real}.lock`);
    for (const other of [join(dir, 'shared-link'), join(dir, 'dir-link', 'shared'), join(dir, 'sub', '..', 'shared')]) {
      const err = await acquireLock(other, { timeoutMs: 0 }).catch((e: unknown) => e);
      expect(err, other).toBeInstanceOf(LockHeldError);
      expect((err as LockHeldError).pid).toBe(String(process.pid));
      expect((err as LockHeldError).lockPath).toBe(`${real}.lock`);
    }
    // A file that does not exist yet is named by its directory's real path.
    const fresh = await acquireLock(join(dir, 'dir-link', 'not-yet'));
    expect(fresh.path).toBe(join(dir, 'not-yet.lock'));
    await fresh.release();
    await lock.release();
    const again = await acquireLock(join(dir, 'shared-link'), { timeoutMs: 0 });
    await again.release();
  });

  it('withLock releases on failure too', async () => {
    const target = join(dir, 'h');
    await expect(withLock(target, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await exists(`${target}.lock`)).toBe(false);
    expect(await withLock(target, () => 42)).toBe(42);
  });
});

describe('writeFileAtomic', () => {
  it('creates, replaces and keeps the existing mode', async () => {
    const file = join(dir, 'atomic');
    await writeFileAtomic(file, 'one');
    expect(await readFile(file, 'utf8')).toBe('one');
    await chmod(file, 0o600);
    await writeFileAtomic(file, Buffer.from('two'));
    expect(await readFile(file, 'utf8')).toBe('two');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('writes through a symlink instead of replacing it', async () => {
    const real = join(dir, 'real');
    const link = join(dir, 'link');
    await writeFile(real, 'old');
    await symlink(real, link);
    await writeFileAtomic(link, 'new');
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readFile(real, 'utf8')).toBe('new');
  });

  it('cleans up its temp file when the target cannot be replaced', async () => {
    const sub = await mkdtemp(join(dir, 'fail-'));
    const target = join(sub, 'is-a-dir');
    await mkdir(target); // a non-empty directory cannot be renamed over
    await writeFile(join(target, 'x'), '');
    await expect(writeFileAtomic(target, 'data')).rejects.toThrow();
    expect(await readdir(sub)).toEqual(['is-a-dir']);
  });
});
