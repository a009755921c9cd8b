// `fleet cron analyze|simulate --svg` on an emulated fleet: the picture is well-formed XML and the
// numbers it draws are the ones `--json` prints.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleet, jsonLines } from './cli-harness.js';
import { readLoadSvg } from './svg-read.js';
import { Emulator } from '../../src/emulator/index.js';

let emu: Emulator;
let dir: string;
const GUESTS = 8;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-cron-svg-test-'));
  emu = await Emulator.start({ guests: GUESTS, state: join(dir, 'state'), subnet: '127.185.0.0/16', port: 2222 });
});

afterAll(async () => {
  await emu?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sel = () => ['-i', emu.inventoryPath, '--identity', emu.clientKeyPath];

describe('fleet cron analyze --svg', () => {
  it("draws the day's starts and the eligible queue as the JSON analysis gives them, with the cap", async () => {
    const file = join(dir, 'analyze.svg');
    const r = await fleet('cron', 'analyze', ...sel(), '--svg', file, '--cap', '3', '--date', '2026-03-02', '--json');
    expect(r.code).toBe(0);
    const { analysis } = jsonLines(r.out).at(-1)!;
    expect(analysis.counts).toHaveLength(1440);
    expect(analysis.queue).toHaveLength(1440);
    expect(analysis.peak).toBe(GUESTS);
    const panels = readLoadSvg(readFileSync(file, 'utf8'));
    expect(panels.starts!.lines).toEqual([analysis.counts]);
    expect(panels.queue!.lines).toEqual([analysis.queue]);
    expect(panels.starts!.texts).toContain('cap 3 per slot');
    expect(panels.starts!.texts.filter((t) => /^\d\d:\d\d$/.test(t))[0]).toBe('00:00');
  });

  it('says where the picture went; a directory that does not exist is a usage error before any guest is read', async () => {
    const text = await fleet('cron', 'analyze', ...sel(), '--svg', join(dir, 'day.svg'));
    expect(text.out).toContain(`picture written to ${join(dir, 'day.svg')}`);
    const bad = await fleet('cron', 'analyze', ...sel(), '--svg', join(dir, 'missing', 'x.svg'));
    expect(bad.code).toBe(2);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
    expect(bad.err).toMatch(/--svg .*(existing directory|does not exist)/);
    expect(bad.err).toContain(join('missing', 'x.svg'));
    expect(bad.out).toBe('');
    const dirAsFile = await fleet('cron', 'simulate', ...sel(), '--svg', dir);
    expect(dirAsFile.code).toBe(2);
    expect(dirAsFile.err).toMatch(/is a directory/);
  });
});

describe('fleet cron simulate --svg', () => {
  it('draws before and after the plan, starts and queue, exactly as the JSON runs give them', async () => {
    const file = join(dir, 'simulate.svg');
    const r = await fleet('cron', 'simulate', ...sel(), '--replace-run-crons', '--window', '23:00-01:00', '--slot', '12m', '--cap', '2',
      '--capacity', '3', '--date', '2026-03-02', '--svg', file, '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const { runs, from } = JSON.parse(r.out);
    expect(from).toBe('12:00');
    expect(runs).toHaveLength(2);
    // A queue before (8 guests' daily run-crons at once against 3 dispatched), none after (2 per slot).
    expect(runs[0].peakQueue).toBeGreaterThan(0);
    expect(runs[1].peakQueue).toBe(0);
    const panels = readLoadSvg(readFileSync(file, 'utf8'));
    expect(panels.starts!.lines).toEqual(runs.map((x: { counts: number[] }) => x.counts));
    expect(panels.queue!.lines).toEqual(runs.map((x: { queue: number[] }) => x.queue));
    for (const x of runs) {
      expect(Math.max(...x.counts)).toBe(x.peakStarts);
      expect(Math.max(...x.queue)).toBe(x.peakQueue);
    }
    expect(panels.starts!.texts).toContain('cap 2 per slot');
    expect(panels.starts!.texts.filter((t) => /^\d\d:\d\d$/.test(t))[0]).toBe('12:00');
    expect(existsSync(file)).toBe(true);
  });
});
