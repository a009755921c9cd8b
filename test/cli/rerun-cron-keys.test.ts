// `cron apply` and `keys rotate` record the guests they did not succeed on, as run/push/play do:
// `-l @failed` / `--rerun failed` then select exactly those (failed, unreachable, refused, and those
// a batch stop left unstarted), and the summary says how to retry.
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rerunFile } from '../../src/cli/rerun.js';
import { fleet, jsonLines } from './cli-harness.js';
import { useFleet } from '../helpers/emulator.js';
import { recordedHosts, usePrivateStateHome } from './rerun-state.js';
import { adminKnownHosts } from '../hostkeys/helpers.js';

const F = useFleet({ guests: 6, subnet: '127.208.0.0/24', port: 2222 });
const sel = () => ['-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath, '--connect-timeout', '10'];
usePrivateStateHome();
beforeEach(async () => F().emu.clearFaults());

const recorded = () => recordedHosts(F().emu.inventoryPath);
/** What `-l @failed` selects now, as `fleet inventory` expands it. */
const atFailed = async () => jsonLines((await fleet('inventory', '-i', F().emu.inventoryPath, '-F', 'none', '-l', '@failed', '--json')).out).map((x) => x.name);
const JOB = ['--job', 'nightly', '--command', 'true', '--window', '01:00-02:00', '--cap', '6', '--yes'];

describe('cron apply', () => {
  it('records the guests it could not reach or log in to; --rerun failed writes exactly those', async () => {
    await F().emu.setFault('refuse@2');
    await F().emu.setFault('auth-reject@5');
    const r = await fleet('cron', 'apply', ...sel(), ...JOB);
    expect(r.code).toBe(1);
    expect(recorded()).toEqual(['guest002', 'guest005']);
    expect(await atFailed()).toEqual(['guest002', 'guest005']);
    expect(r.out).toContain(`to retry on the 2 that did not succeed: fleet cron apply --rerun failed ... (or -l @failed; the list: ${rerunFile(F().emu.inventoryPath)})\n`);

    await F().emu.clearFaults();
    const again = await fleet('cron', 'apply', ...sel(), ...JOB, '--rerun', 'failed', '--json');
    expect(again.code).toBe(0);
    const rows = jsonLines(again.out);
    expect(rows.filter((x) => x.host).map((x) => [x.host, x.status, x.changed])).toEqual([['guest002', 'ok', true], ['guest005', 'ok', true]]);
    expect(rows.at(-1)!.summary.rerunFile).toBe(rerunFile(F().emu.inventoryPath));
    expect(recorded()).toEqual([]);

    const both = await fleet('cron', 'apply', ...sel(), 'guest001', ...JOB, '--rerun', 'failed');
    expect([both.code, both.err]).toEqual([2, "fleet: --rerun failed selects the guests itself; drop the selection 'guest001' (or write it as -l '@failed,guest001')\n"]);
  });

  it('a dry run leaves the list of the last apply as it was', async () => {
    await F().emu.setFault('refuse@3');
    await fleet('cron', 'apply', ...sel(), ...JOB, '--job', 'other');
    expect(recorded()).toEqual(['guest003']);
    await F().emu.clearFaults();
    const dry = await fleet('cron', 'apply', ...sel(), ...JOB, '--job', 'other', '--dry-run');
    expect(dry.code).toBe(0);
    expect(recorded()).toEqual(['guest003']);
  });
});

describe('keys rotate', () => {
  let kh: string;
  beforeAll(() => {
    kh = adminKnownHosts(F().emu);
  });
  const rotate = (...args: string[]) => fleet('keys', 'rotate', ...sel(), '--known-hosts', kh, '--types', 'ed25519', '--yes', ...args);

  it('a batch stop: the failed guest and those never started are recorded; --resume finishes and empties the list', async () => {
    const journal = join(F().state, 'stop.jsonl');
    await F().emu.setFault('refuse@1');
    const r = await rotate('--batch', '2', '--max-fail', '0', '--journal', journal);
    expect(r.code).toBe(1);
    expect(r.out).toContain('not started (4): guest[003-006]');
    expect(recorded()).toEqual(['guest001', 'guest003', 'guest004', 'guest005', 'guest006']);
    expect(await atFailed()).toEqual(['guest001', 'guest003', 'guest004', 'guest005', 'guest006']);
    // The run is open: --resume carries it on (a new run, which -l @failed would start, must wait).
    expect(r.out).toContain(`the 5 that did not succeed are listed in ${rerunFile(F().emu.inventoryPath)} (-l @failed) once the run is finished\n`);

    await F().emu.clearFaults();
    const resumed = await rotate('--resume', '--journal', journal, '--json');
    expect(resumed.code).toBe(0);
    expect(jsonLines(resumed.out).filter((x) => x.host).map((x) => [x.host, x.outcome])).toEqual(
      ['guest001', 'guest003', 'guest004', 'guest005', 'guest006'].map((h) => [h, 'done']),
    );
    expect(recorded()).toEqual([]);
  });

  it('a finished run with a guest it could not reach: --rerun failed rotates exactly that one', async () => {
    const journal = join(F().state, 'one.jsonl');
    await F().emu.setFault('refuse@4');
    const r = await rotate('--journal', journal);
    expect(r.code).toBe(1);
    expect(recorded()).toEqual(['guest004']);
    expect(r.out).toContain(`to retry on the 1 that did not succeed: fleet keys rotate --rerun failed ... (or -l @failed; the list: ${rerunFile(F().emu.inventoryPath)})\n`);

    await F().emu.clearFaults();
    const again = await rotate('--rerun', 'failed', '--journal', journal, '--json');
    expect(again.code).toBe(0);
    const rows = jsonLines(again.out);
    expect(rows.filter((x) => x.host).map((x) => [x.host, x.outcome])).toEqual([['guest004', 'done']]);
    expect(rows.at(-1)!.summary.rerunFile).toBe(rerunFile(F().emu.inventoryPath));
    expect(recorded()).toEqual([]);
  });
});
