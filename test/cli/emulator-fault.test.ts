// `fleet emulator fault` names the guests it picked (folded, as every host list fleet prints), and
// `status` shows each fault's guests in full: folded in the human view, one row per guest in --json.
import { describe, expect, it } from 'vitest';
import { fleet } from './cli-harness.js';
import { expandFolded } from '../../src/inventory/index.js';
import { useFleet } from '../helpers/emulator.js';

const F = useFleet({ guests: 40, subnet: '127.166.0.0/16', port: 2222, seed: 'fault-names' });

describe('fleet emulator fault and status name the guests', () => {
  it('a seeded N% pick prints exactly the guests that got the fault; status lists every one', async () => {
    const set = await fleet('emulator', 'fault', '--state', F().state, 'hang@20%', 'slow:1500@3,5-7');
    expect(set.code, set.err).toBe(0);
    const [hang, slow] = set.out.trim().split('\n');
    expect(slow).toBe('slow:1500@3,5-7: 4 guests: guest[003,005-007]');
    const m = /^hang@20%: 8 guests: (\S+)$/.exec(hang!);
    expect(m, hang).not.toBeNull();
    const picked = expandFolded(m![1]!);
    expect(picked).toHaveLength(8);

    const json = await fleet('emulator', 'status', '--state', F().state, '--json');
    const status = JSON.parse(json.out);
    const of = (kind: string) => status.faults.filter((f: { kind: string }) => f.kind === kind).map((f: { guest: string }) => f.guest).sort();
    expect(of('hang')).toEqual([...picked].sort());
    expect(of('slow')).toEqual(['guest003', 'guest005', 'guest006', 'guest007']);

    const human = await fleet('emulator', 'status', '--state', F().state);
    expect(human.out).toContain(`hang on 8: ${m![1]}`);
    expect(human.out).toContain('slow:1500 on 4: guest[003,005-007]');
    expect(human.out).not.toContain('...');

    const none = await fleet('emulator', 'fault', '--state', F().state, '--clear', 'refuse@0%');
    expect(none.code, none.err).toBe(0);
    expect((await fleet('emulator', 'fault', '--state', F().state, 'refuse@0%')).out).toBe('refuse@0%: no guest\n');
    await F().emu.clearFaults();
  });
});
