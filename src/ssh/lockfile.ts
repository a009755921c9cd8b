// Cross-process file safety: an O_EXCL lock file with stale-lock recovery, and atomic file replacement.
import { randomBytes } from 'node:crypto';
import { link, open, readFile, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { FleetError } from '../core/errors.js';

export interface LockOptions {
  /** Give up after this long (default 10 s): a wedged lock must not hang a run forever. */
  timeoutMs?: number;
  /** Pause between attempts (default 50 ms, with jitter so waiters do not retry in lockstep). */
  retryMs?: number;
}

/** The lock is held by a live process (given up at once with `timeoutMs: 0`, else at the deadline). */
export class LockHeldError extends FleetError {
  constructor(message: string, readonly lockPath: string, readonly pid: string, readonly host: string) {
    super(message);
  }
}

export interface FileLock {
  readonly path: string;
  /** Remove the lock if it is still ours; safe to call twice. */
  release(): Promise<void>;
}

// A lock file left empty (its writer died between create and write) is judged stale after this long.
const EMPTY_LOCK_STALE_MS = 10_000;

/**
 * The one path that names a file however it is reached: symlinks and `..` resolved (of the file, or of
 * its directory when the file does not exist yet). Locks hang off this, so a symlink or another
 * spelling of the same file finds the same lock.
 */
export async function canonicalPath(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    const dir = await realpath(dirname(resolve(path))).catch(() => dirname(resolve(path)));
    return join(dir, basename(path));
  }
}

/**
 * Take `<target>.lock` (beside the file's canonical path), waiting while another live process holds
 * it and breaking it if its holder died.
 */
export async function acquireLock(target: string, options: LockOptions = {}): Promise<FileLock> {
  const lockPath = `${await canonicalPath(target)}.lock`;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const retryMs = options.retryMs ?? 50;
  const token = randomBytes(8).toString('hex');
  const content = `${process.pid}\n${hostname()}\n${token}\n`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // The lock is born with its content: written to a private file first, then hard-linked into
    // place (atomic, fails if a lock exists). Killed at any instant, we leave either no lock or a
    // lock naming our pid, never an empty one that blocks everybody until it ages.
    const draft = `${lockPath}.${process.pid}-${token}`;
    try {
      const fh = await open(draft, 'wx', 0o644);
      try {
        await fh.writeFile(content);
      } finally {
        await fh.close();
      }
      await link(draft, lockPath);
      return { path: lockPath, release: () => releaseIfOurs(lockPath, content) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await unlink(draft).catch(() => undefined);
    }
    const holder = await readFile(lockPath, 'utf8').catch(() => null);
    if (holder !== null && (await isStale(lockPath, holder))) {
      await breakLock(lockPath, holder);
      continue;
    }
    if (Date.now() >= deadline) {
      const [pid = '', host = ''] = (holder ?? '').split('\n');
      const waited = timeoutMs > 0 ? `timed out after ${timeoutMs} ms waiting for lock` : 'lock taken:';
      throw new LockHeldError(`${waited} ${lockPath} (held by pid ${pid || '?'} on ${host || '?'})`, lockPath, pid || '?', host || '?');
    }
    await new Promise((r) => setTimeout(r, retryMs * (0.5 + Math.random())));
  }
}

/** Run `fn` while holding the lock on `target`; the lock is released on every path. */
export async function withLock<T>(target: string, fn: () => T | Promise<T>, options: LockOptions = {}): Promise<T> {
  const lock = await acquireLock(target, options);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

async function isStale(lockPath: string, holder: string): Promise<boolean> {
  const [pidText, host] = holder.split('\n');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) {
    const info = await stat(lockPath).catch(() => null);
    return info !== null && Date.now() - info.mtimeMs > EMPTY_LOCK_STALE_MS;
  }
  // A pid from another machine (shared filesystem) cannot be checked: wait for it instead.
  if (host !== hostname()) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Move the stale lock aside before deleting it, so two waiters breaking it at once cannot delete a
 * fresh lock the other just took; if what we moved is not what we judged stale, put it back.
 */
async function breakLock(lockPath: string, staleContent: string): Promise<void> {
  const aside = `${lockPath}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(lockPath, aside);
  } catch {
    return; // someone else broke or released it first
  }
  const moved = await readFile(aside, 'utf8').catch(() => null);
  if (moved !== staleContent) await link(aside, lockPath).catch(() => undefined);
  await rm(aside, { force: true });
}

async function releaseIfOurs(lockPath: string, content: string): Promise<void> {
  const current = await readFile(lockPath, 'utf8').catch(() => null);
  if (current === content) await unlink(lockPath).catch(() => undefined);
}

/**
 * Replace `path` atomically: write a temp file in the same directory, fsync it, rename it over the
 * target, fsync the directory. Readers see the old or the new content, never a mix, even after a
 * crash. Keeps the existing file's mode (else `mode`, default 0644) and writes through a symlink.
 */
export async function writeFileAtomic(path: string, data: string | Buffer, options: { mode?: number } = {}): Promise<void> {
  const target = await realpath(path).catch(() => path);
  const dir = dirname(target);
  const existing = await stat(target).catch(() => null);
  const mode = existing ? existing.mode & 0o7777 : (options.mode ?? 0o644);
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    try {
      await fh.writeFile(data);
      if (existing) await fh.chmod(mode); // open() applied the umask; an existing file's mode wins
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dir);
}

/** fsync a directory so an entry just created or renamed in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the rename itself is still atomic.
  } finally {
    await dh.close();
  }
}
