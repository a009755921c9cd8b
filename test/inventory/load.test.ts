import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInventory } from '../../src/inventory/index.js';
import { InputError } from '../../src/core/errors.js';
import { fleet } from '../cli/cli-harness.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-inv-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadInventory', () => {
  it('reads a file', async () => {
    const file = join(dir, 'list.txt');
    await writeFile(file, '10.0.0.[1-2]\n');
    expect([...(await loadInventory(file)).hosts.keys()]).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('merges the inventory files of a directory: hosts, inventory, then the others by name', async () => {
    const a = join(dir, 'a');
    await mkdir(a);
    await writeFile(join(a, 'inventory'), '[g]\nfrom-inventory\n');
    expect([...(await loadInventory(a)).hosts.keys()]).toEqual(['from-inventory']);
    await writeFile(join(a, 'hosts'), 'from-hosts\n');
    await writeFile(join(a, 'known_hosts'), 'from-hosts ssh-ed25519 AAAA\n');
    await writeFile(join(a, 'README.md'), '# not an inventory\n');
    expect([...(await loadInventory(a)).hosts.keys()]).toEqual(['from-hosts', 'from-inventory']);
  });

  it('names the file in parse errors', async () => {
    const file = join(dir, 'bad');
    await writeFile(file, '[g]\nok\nweb[9-1]\n');
    await expect(loadInventory(file)).rejects.toThrow(`${file}:3: `);
  });

  it('rejects missing paths, empty directories and binary files', async () => {
    await expect(loadInventory(join(dir, 'missing'))).rejects.toBeInstanceOf(InputError);
    const empty = join(dir, 'empty');
    await mkdir(empty);
    await expect(loadInventory(empty)).rejects.toThrow(/no inventory file in directory/);
    const bin = join(dir, 'bin');
    await writeFile(bin, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
    await expect(loadInventory(bin)).rejects.toThrow(/not a text file/);
  });

  it('refuses a host declared twice in two places: exit 2 naming both lines', async () => {
    const file = join(dir, 'twice');
    await writeFile(file, '[web]\nweb1 ansible_host=10.0.0.1\n[db]\nweb1 ansible_host=10.0.0.9\n');
    const r = await fleet('inventory', '-i', file);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`fleet: ${file}:4: host 'web1' is declared again with ansible_host=10.0.0.9, but ${file}:2 gives it ansible_host=10.0.0.1: ` +
      'one name, two places (give the second its own name, or the same value)\n');
    expect(r.out).toBe('');
  });
});
