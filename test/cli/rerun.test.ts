// Output that round-trips: every run records the guests it did not succeed on (failed, unreachable,
// never started) for `--rerun failed` / `-l @failed`; a rolling run that stops says which batch, why
// and how to resume; --retries reconnects but never repeats a command; plain progress lines for logs.
import { beforeEach, describe, expect, it } from 'vitest';
import { rerunFile } from '../../src/cli/rerun.js';
import { fleet, jsonLines, statuses } from './cli-harness.js';
import { useFleet } from '../helpers/emulator.js';
import { recordedHosts, usePrivateStateHome } from './rerun-state.js';

const F = useFleet({ guests: 6, subnet: '127.177.0.0/24', port: 2222 });
const sel = () => ['-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath, '--connect-timeout', '5'];
usePrivateStateHome();
beforeEach(async () => F().emu.clearFaults());

const recorded = () => recordedHosts(F().emu.inventoryPath);

describe('the guests a run did not succeed on', () => {
  it('are recorded and named; --rerun failed and -l @failed act on exactly them', async () => {
    await F().emu.setFault('refuse@5');
    const r = await fleet('run', ...sel(), '--', 'test "$(hostname)" != guest002');
    expect(r.code).toBe(1);
    expect(recorded()).toEqual(['guest002', 'guest005']);
    expect(r.out).toContain(`to retry on the 2 that did not succeed: fleet run --rerun failed ... (or -l @failed; the list: ${rerunFile(F().emu.inventoryPath)})`);
    await F().emu.clearFaults();
    const again = await fleet('run', ...sel(), '--rerun', 'failed', '--json', '--', 'hostname');
    expect(statuses(again.out)).toEqual({ guest002: 'ok', guest005: 'ok' });
    // That run succeeded everywhere: nothing is left to rerun.
    expect(recorded()).toEqual([]);
    const none = await fleet('run', ...sel(), '-l', '@failed', '--', 'true');
    expect([none.code, none.err]).toEqual([2, `fleet: @failed: the last run on ${F().emu.inventoryPath} succeeded on every guest; nothing to rerun\n`]);
  });

  it('-l \'!@failed\' leaves them out; --rerun with another selection is refused', async () => {
    await fleet('run', ...sel(), '--', 'test "$(hostname)" != guest003');
    const rest = await fleet('run', ...sel(), '-l', '!@failed', '--json', '--', 'true');
    expect(Object.keys(statuses(rest.out))).toEqual(['guest001', 'guest002', 'guest004', 'guest005', 'guest006']);
    const both = await fleet('run', ...sel(), 'guest001', '--rerun', 'failed', '--', 'true');
    expect(both.code).toBe(2);
  });
});

describe('a rolling run that stops', () => {
  it('names the guests never started, the batch, the budget and the count, and how to resume', async () => {
    const r = await fleet('run', ...sel(), '--batch', '2', '--max-fail', '0', '--', 'test "$(hostname)" != guest001');
    expect(r.code).toBe(1);
    expect(r.out).not.toContain('notRun');
    expect(r.out).toMatch(/run: 1 ok, 1 failed, 4 not started of 6/);
    expect(r.out).toContain('not started: guest[003-006] (4): stopped before batch 2 of 3: 1 guests failed, more than --max-fail 0 (0 allowed)\n');
    expect(r.out).toContain('to resume on the 5 that did not succeed: fleet run --rerun failed');
    expect(recorded()).toEqual(['guest001', 'guest003', 'guest004', 'guest005', 'guest006']);

    const json = await fleet('run', ...sel(), '--batch', '2', '--max-fail', '0', '--json', '--', 'test "$(hostname)" != guest001');
    const summary = jsonLines(json.out).at(-1)!.summary;
    expect(summary).toMatchObject({
      notRun: 4, notStarted: ['guest003', 'guest004', 'guest005', 'guest006'],
      stopped: { reason: 'max-fail', batch: 2, of: 3, failed: 1, budget: 0 }, rerunFile: rerunFile(F().emu.inventoryPath),
    });

    const resumed = await fleet('run', ...sel(), '--rerun', 'failed', '--json', '--', 'true');
    expect(Object.keys(statuses(resumed.out))).toEqual(['guest001', 'guest003', 'guest004', 'guest005', 'guest006']);
  });
});

describe('a run interrupted with Ctrl-C', () => {
  it('names the guests it never started, says it was interrupted in which batch, and records them', async () => {
    // The first Ctrl-C starts no new guest and lets the running ones finish.
    const interrupt = setTimeout(() => process.emit('SIGINT'), 1500);
    const r = await fleet('run', ...sel(), '--batch', '1', '--', 'sleep 1');
    clearTimeout(interrupt);
    const m = /not started: (\S+) \((\d)\): interrupted in batch (\d) of 6\n/.exec(r.out);
    expect(m, r.out).not.toBeNull();
    expect(Number(m![2])).toBe(7 - Number(m![3]));
    expect(r.out).toContain('to resume on the');
    expect(recorded()).toHaveLength(Number(m![2]));
  });
});

describe('--retries', () => {
  it('reconnects to a guest that refused until it answers', async () => {
    await F().emu.setFault('refuse@4');
    // The guest's sshd comes back while fleet is waiting between attempts.
    const clearing = new Promise<void>((resolve) => setTimeout(() => void F().emu.clearFaults().then(resolve), 500));
    const r = await fleet('run', ...sel(), 'guest004', '--retries', '20', '--retry-delay', '0.5', '--json', '--', 'hostname');
    await clearing;
    expect(statuses(r.out)).toEqual({ guest004: 'ok' });
  });

  it('gives up after N more attempts, saying so; without --retries one attempt', async () => {
    await F().emu.setFault('refuse@4');
    const r = await fleet('run', ...sel(), 'guest004', '--retries', '2', '--retry-delay', '0.1', '--json', '--', 'true');
    const row = jsonLines(r.out)[0]!;
    expect(row.status).toBe('unreachable');
    expect(row.error).toMatch(/\(after 3 attempts\)$/);
    const once = jsonLines((await fleet('run', ...sel(), 'guest004', '--json', '--', 'true')).out)[0]!;
    expect(once.error).not.toMatch(/attempts/);
  });

  it('never repeats a command that ran and failed, nor one whose connection dropped', async () => {
    const mark = `/tmp/fleet-retry-${process.pid}`;
    const r = await fleet('run', ...sel(), 'guest006', '--retries', '3', '--retry-delay', '0.1', '--json', '--', `echo ran >> ${mark}; exit 3`);
    expect(statuses(r.out)).toEqual({ guest006: 'failed' });
    await F().emu.setFault('drop:300@6');
    const dropped = await fleet('run', ...sel(), 'guest006', '--retries', '3', '--retry-delay', '0.1', '--json', '--', `echo ran >> ${mark}; sleep 2`);
    expect(statuses(dropped.out)).toEqual({ guest006: 'unreachable' });
    await F().emu.clearFaults();
    const count = await fleet('run', ...sel(), 'guest006', '--', `cat ${mark}; rm -f ${mark}`);
    expect(count.out).toContain('ran\nran\n');
    expect(count.out).not.toContain('ran\nran\nran');
  });
});

describe('progress for logs', () => {
  it('--progress: a plain line per batch and at the end, on stderr, stdout untouched', async () => {
    const r = await fleet('run', ...sel(), '--progress', '--batch', '2', '--json', '--', 'true');
    const lines = r.err.trim().split('\n');
    expect(lines.filter((l) => /^fleet: progress \d+\/6 done, 0 failed, \d+ running, \d+ s; batch \d of 3 \(2 guests\) starting$/.test(l))).toHaveLength(3);
    expect(lines.at(-1)).toMatch(/^fleet: progress 6\/6 done, 0 failed, 0 running, \d+ s; finished$/);
    expect(jsonLines(r.out)).toHaveLength(7);
  });
});
