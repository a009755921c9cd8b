import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  acquireLock, addPin, loadKnownHosts, removePins, saveKnownHosts, updateKnownHosts, verify, writeKnownHostsAtomic,
} from '../../src/ssh/index.js';
import { InputError } from '../../src/core/errors.js';
import { b64, ed25519 } from './keys.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-khf-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('known_hosts files', () => {
  it('treats a missing file as empty', async () => {
    const kh = await loadKnownHosts(join(dir, 'missing'));
    expect(kh.lines).toEqual([]);
    expect(kh.file).toBe(join(dir, 'missing'));
  });

  it('rejects a binary file with an InputError naming it', async () => {
    const file = join(dir, 'binary');
    await writeFile(file, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00]));
    await expect(loadKnownHosts(file)).rejects.toBeInstanceOf(InputError);
    await expect(loadKnownHosts(file)).rejects.toThrow(`${file}:1: not a known_hosts file`);
  });

  it('reports bad lines as warnings with the file name', async () => {
    const file = join(dir, 'warn');
    await writeFile(file, '# c\nh ssh-ed25519 !!!!\n');
    const kh = await loadKnownHosts(file);
    expect(kh.warnings).toEqual([{ file, line: 2, message: 'bad base64 in key; ignored, not a pin' }]);
  });

  it('saves byte for byte what it loaded, including CRLF and latin1', async () => {
    const file = join(dir, 'roundtrip');
    const bytes = Buffer.concat([
      Buffer.from(`# caf`),
      Buffer.from([0xe9, 0x0d, 0x0a]),
      Buffer.from(`  h1 \t ssh-ed25519  ${b64(ed25519(1))}\t c\r\n\r\ngarbage line\n@cert-authority *.x ssh-ed25519 ${b64(ed25519(2))}`),
    ]);
    await writeFile(file, bytes);
    const kh = await loadKnownHosts(file);
    await saveKnownHosts(file, kh);
    expect((await readFile(file)).equals(bytes)).toBe(true);
  });

  it('writes atomically under a lock and leaves no temp or lock files', async () => {
    const sub = await mkdtemp(join(dir, 'atomic-'));
    const file = join(sub, 'known_hosts');
    await writeKnownHostsAtomic(file, 'first\n');
    await writeKnownHostsAtomic(file, 'second\n');
    expect(await readFile(file, 'utf8')).toBe('second\n');
    expect(await readdir(sub)).toEqual(['known_hosts']);
  });

  it('waits for the lock and gives up after the timeout', async () => {
    const file = join(dir, 'locked');
    const lock = await acquireLock(file);
    try {
      await expect(writeKnownHostsAtomic(file, 'x\n', { timeoutMs: 150 })).rejects.toThrow(/timed out after 150 ms/);
    } finally {
      await lock.release();
    }
    await writeKnownHostsAtomic(file, 'x\n');
    expect(await readFile(file, 'utf8')).toBe('x\n');
  });

  it('never loses concurrent updates', async () => {
    const file = join(dir, 'concurrent');
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        updateKnownHosts(file, (kh) => addPin(kh, `host${i}`, 22, 'ssh-ed25519', ed25519(i + 1)), { timeoutMs: 30_000, retryMs: 5 }),
      ),
    );
    const kh = await loadKnownHosts(file);
    for (let i = 0; i < 20; i++) expect(verify(kh, `host${i}`, 22, 'ssh-ed25519', ed25519(i + 1))).toBe('ok');
    expect(kh.lines).toHaveLength(20);
  });

  it('does not rewrite the file when an edit changes nothing, and returns the edit result', async () => {
    const file = join(dir, 'unchanged');
    await writeFile(file, `h ssh-ed25519 ${b64(ed25519(1))}\n`);
    const before = await stat(file);
    const removed = await updateKnownHosts(file, (kh) => removePins(kh, 'other'));
    expect(removed).toBe(0);
    expect((await stat(file)).ino).toBe(before.ino);
    expect(await updateKnownHosts(file, (kh) => removePins(kh, 'h'))).toBe(1);
    expect(await readFile(file, 'utf8')).toBe('');
  });

  it('creates the file on first pin', async () => {
    const file = join(dir, 'fresh');
    expect(await updateKnownHosts(file, (kh) => addPin(kh, 'h', 22, 'ssh-ed25519', ed25519(5)))).toBe(true);
    expect(await readFile(file, 'utf8')).toBe(`h ssh-ed25519 ${b64(ed25519(5))}\n`);
  });
});
