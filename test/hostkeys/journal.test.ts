// The rotation journal: torn last lines, replay per guest and attempt, one rotation at a time.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal, parseJournal, readJournal, replay, unsettled, type JournalRecord } from '../../src/hostkeys/index.js';
import { InputError } from '../../src/core/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-journal-test-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const at = '2026-11-25T00:00:00.000Z';
const target = (name: string) => ({ name, address: `10.0.0.${name.slice(-1)}`, port: 22, user: 'admin' });
const run = (id: string, hosts: string[]): JournalRecord => ({ type: 'run', run: id, at, types: null, restart: null, targets: hosts.map(target) });
const step = (id: string, host: string, s: Extract<JournalRecord, { type: 'step' }>['step'], extra = {}): JournalRecord => ({ type: 'step', run: id, host, step: s, at, ...extra });
const key = { keyType: 'ssh-ed25519', key: Buffer.alloc(8, 1).toString('base64') };

describe('parseJournal', () => {
  it('ignores a torn last line, and refuses damage anywhere else', () => {
    const good = JSON.stringify(run('r1', ['g1']));
    expect(parseJournal(`${good}\n{"type":"st`, 'j')).toHaveLength(1);
    expect(() => parseJournal(`${good}\n{"type":"st\n${good}\n`, 'j')).toThrow(InputError);
    expect(() => parseJournal(`${good}\n{"type":"st\n${good}\n`, 'j')).toThrow(/j:2/);
  });
});

describe('replay', () => {
  it('folds the last run per guest: steps, keys, the swap, ends, and a new attempt resets', () => {
    const records: JournalRecord[] = [
      run('r0', ['g1']),
      { type: 'run-end', run: 'r0', at },
      run('r1', ['g1', 'g2', 'g3']),
      step('r1', 'g1', 'connect', { old: [key] }),
      step('r1', 'g1', 'pin', { new: [key] }),
      step('r1', 'g1', 'swap'),
      step('r1', 'g2', 'connect', { old: [key] }),
      { type: 'end', run: 'r1', host: 'g2', outcome: 'rolled-back', at, error: 'x' },
      step('r1', 'g2', 'connect', { old: [key] }),
      step('r1', 'g2', 'generate', { staging: '/etc/ssh/fleet-rotate/r1-g2-2' }),
      { type: 'note', run: 'r1', host: 'g2', at, error: 'unreachable' },
    ];
    const s = replay(records)!;
    expect(s.run.run).toBe('r1');
    expect(s.ended).toBe(false);
    expect(s.hosts.get('g1')).toMatchObject({ attempts: 1, lastStep: 'swap', swapped: true });
    expect(s.hosts.get('g1')!.new[0]!.key.equals(Buffer.alloc(8, 1))).toBe(true);
    expect(s.hosts.get('g2')).toMatchObject({ attempts: 2, lastStep: 'generate', swapped: false, staging: '/etc/ssh/fleet-rotate/r1-g2-2', notes: ['unreachable'] });
    expect(s.hosts.get('g2')!.end).toBeUndefined();
    expect(unsettled(s).map((h) => h.host)).toEqual(['g1', 'g2']);
    expect(s.hosts.has('g3')).toBe(false);
  });
});

describe('Journal', () => {
  it('appends durable records, and lets only one rotation hold it', async () => {
    const path = join(dir, 'journal.jsonl');
    const j = await Journal.open(path);
    try {
      await Promise.all([j.append(run('r1', ['g1'])), j.append(step('r1', 'g1', 'connect')), j.append(step('r1', 'g1', 'generate'))]);
      expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(3);
      await expect(Journal.open(path)).rejects.toThrow(/another key rotation is using/);
    } finally {
      await j.close();
    }
    expect((await readJournal(path)).map((r) => r.type)).toEqual(['run', 'step', 'step']);
  });

  it('takes over the lock of a rotation that was killed', async () => {
    const path = join(dir, 'journal.jsonl');
    writeFileSync(`${path}.lock`, `999999999\n${(await import('node:os')).hostname()}\nabc\n`);
    const j = await Journal.open(path);
    await j.close();
  });
});
