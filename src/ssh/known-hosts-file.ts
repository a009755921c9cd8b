// known_hosts on disk: load, atomic locked writes, and read-modify-write under one lock.
import { readFile } from 'node:fs/promises';
import { InputError } from '../core/errors.js';
import { parseKnownHosts, serializeKnownHosts, type KnownHosts } from './known-hosts.js';
import { withLock, writeFileAtomic, type LockOptions } from './lockfile.js';

/** Read and parse a known_hosts file; a missing file is an empty one (first pin creates it). */
export async function loadKnownHosts(path: string): Promise<KnownHosts> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return parseKnownHosts('', path);
    throw new InputError(`cannot read known_hosts: ${(err as Error).message}`, { file: path });
  }
  return parseKnownHosts(data, path);
}

/** The bytes to write: in the encoding the file was read with, so untouched lines keep every byte. */
export function encodeKnownHosts(kh: KnownHosts): Buffer {
  return Buffer.from(serializeKnownHosts(kh), kh.encoding);
}

/** Replace the file atomically (temp file, fsync, rename, fsync dir) while holding `<path>.lock`. */
export async function writeKnownHostsAtomic(path: string, text: string | Buffer, options: LockOptions = {}): Promise<void> {
  await withLock(path, () => writeFileAtomic(path, text), options);
}

/** Write a parsed-and-edited file back (locked, atomic). Prefer updateKnownHosts for edits. */
export async function saveKnownHosts(path: string, kh: KnownHosts, options: LockOptions = {}): Promise<void> {
  await writeKnownHostsAtomic(path, encodeKnownHosts(kh), options);
}

/**
 * Load, edit and write back under one lock, so concurrent editors (two fleet runs pinning keys) never
 * lose each other's changes. The file is rewritten only if the edit changed its bytes.
 */
export async function updateKnownHosts<T>(path: string, edit: (kh: KnownHosts) => T | Promise<T>, options: LockOptions = {}): Promise<T> {
  return withLock(
    path,
    async () => {
      const kh = await loadKnownHosts(path);
      const before = encodeKnownHosts(kh);
      const result = await edit(kh);
      const after = encodeKnownHosts(kh);
      if (!after.equals(before)) await writeFileAtomic(path, after);
      return result;
    },
    options,
  );
}
