// A fleet larger than the open-files limit allows is refused before anything starts, with a message
// that names the limit and how to raise it (Node already lifts its soft limit to the hard one).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { checkOpenFiles, openFilesLimit, openFilesNeeded } from '../../src/emulator/limits.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'fleet');
const base = mkdtempSync(join(tmpdir(), 'clonefleet-limits-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('open files for a large fleet', () => {
  it('grows with the guests and is checked against the limit', () => {
    expect(openFilesNeeded(5000)).toBeGreaterThan(3 * 5000);
    expect(() => checkOpenFiles(5000, { soft: 20000, hard: 20000 })).not.toThrow();
    expect(() => checkOpenFiles(5000, { soft: 4096, hard: 4096 })).toThrow(/RLIMIT_NOFILE\) is 4096 \(hard limit 4096\).*ulimit -n \d+/);
    expect(openFilesLimit()!.soft).toBeGreaterThan(0);
  });

  it('`fleet emulator up` under too low a limit says so in one line and leaves no state behind', async () => {
    const state = join(base, 'never-made');
    const r = await execa('prlimit', ['--nofile=3000:3000', process.execPath, BIN, 'emulator', 'up', '--guests', '2000', '--state', state, '--subnet', '127.128.0.0/16'], { reject: false, timeout: 60_000 });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/2000 guests need about \d+ open files in the emulator, but its limit \(RLIMIT_NOFILE\) is 3000/);
    expect(existsSync(state)).toBe(false);
  });
});
