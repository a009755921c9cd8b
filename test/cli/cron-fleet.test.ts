// The cron storm and its remedy on 300 cloned guests: analyze shows run-crons firing on all of them at
// every quarter hour, apply puts a capped plan in place, analyze shows the cap, re-apply changes nothing.
// (simulate's before/after runs on the small fleet in cron.test.ts and on 500 guests in dayload.test.ts.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { Emulator } from '../../src/emulator/index.js';

const GUESTS = 300;
const CAP = 15;
let emu: Emulator;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-cron-fleet-test-'));
  emu = await Emulator.start({ guests: GUESTS, state: join(dir, 'state'), subnet: '127.111.0.0/16', port: 2222 });
});

afterAll(async () => {
  await emu?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function fleet(...args: string[]): Promise<{ code: number; out: string; err: string; seconds: number }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  const t0 = performance.now();
  try {
    const code = await main(args);
    return { code, out, err, seconds: (performance.now() - t0) / 1000 };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

// Generous connect timeout: two cores shared with other suites can make 300 handshakes slow.
const sel = () => ['-i', emu.inventoryPath, '--identity', emu.clientKeyPath, '--connect-timeout', '30'];
const last = (out: string) => JSON.parse(out.trim().split('\n').at(-1)!);
/** The JSON lines of guests that did not end ok, for assertion messages. */
const failures = (out: string) => out.split('\n').filter((l) => l.startsWith('{"host"') && !l.includes('"status":"ok"')).join('\n');
const PLAN = ['--replace-run-crons', '--scripts', 'daily,weekly,monthly', '--window', '23:00-06:00', '--slot', '12m', '--cap', String(CAP)];

describe(`the cron storm on ${GUESTS} cloned guests`, () => {
  it('analyze, apply a plan, analyze again, re-apply', async () => {
    const storm = await fleet('cron', 'analyze', ...sel(), '--json', '--date', '2026-11-25');
    expect(storm.err).toBe('');
    expect(storm.code, failures(storm.out)).toBe(0);
    const before = last(storm.out).analysis;
    expect(before.peak).toBe(GUESTS);
    expect(before.peakMinutes).toHaveLength(96);
    expect(before.peakMinutes.slice(0, 4)).toEqual(['00:00', '00:15', '00:30', '00:45']);
    expect(before.causes).toHaveLength(1);
    expect(before.causes[0]).toMatchObject({ guests: GUESTS, starts: GUESTS * 96, hosts: 'guest[001-300]' });
    expect(before.causes[0].command).toMatch(/run-crons/);

    const apply = await fleet('cron', 'apply', ...sel(), ...PLAN, '--json');
    expect(apply.code, failures(apply.out)).toBe(0);
    expect(last(apply.out).summary).toMatchObject({ ok: GUESTS, total: GUESTS });
    expect(apply.out.trim().split('\n').slice(0, -1).every((l) => JSON.parse(l).changed === true)).toBe(true);

    const calm = await fleet('cron', 'analyze', ...sel(), '--json', '--date', '2026-11-25');
    const after = last(calm.out).analysis;
    expect(calm.err).toBe('');
    expect(last(calm.out).summary, failures(calm.out)).toMatchObject({ ok: GUESTS, total: GUESTS });
    expect(after.peak).toBeLessThanOrEqual(CAP);
    expect(after.startsPerDay).toBe(GUESTS);
    expect(after.causes.every((c: { command: string }) => !c.command.includes('run-crons'))).toBe(true);
    expect(Math.min(...after.peakMinutes.map((t: string) => (t < '12:00' ? Number(t.slice(0, 2)) + 24 : Number(t.slice(0, 2)))))).toBeGreaterThanOrEqual(23);

    const again = await fleet('cron', 'apply', ...sel(), ...PLAN);
    expect(again.code, again.out.slice(-2000)).toBe(0);
    expect(again.out).toMatch(new RegExp(`nothing changed: all ${GUESTS} guests already carry this plan`));
    console.log(
      `${GUESTS} guests: analyze ${storm.seconds.toFixed(1)} s, ` +
        `apply ${apply.seconds.toFixed(1)} s, analyze ${calm.seconds.toFixed(1)} s, re-apply ${again.seconds.toFixed(1)} s; ` +
        `peak ${before.peak} -> ${after.peak}`,
    );
  }, 180_000); // ~30-45 s on 2 cores; the margin is for machines busy with other suites
});
