// `fleet play --canary N`: the first N guests run the whole playbook before any other starts; one
// failure among them and nothing else starts. With --batch/--max-fail for the rest, as `fleet run`.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useFleet } from '../helpers/emulator.js';
import { fleet, jsonLines } from '../cli/cli-harness.js';

const F = useFleet({ guests: 5, subnet: '127.156.0.0/16', port: 2222 });

const sel = () => ['-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath];
const guestFile = (i: number, p: string) => join(F().emu.guests[i - 1]!.cfg.dir, p);
const done = () => [1, 2, 3, 4, 5].filter((i) => existsSync(guestFile(i, 'tmp/done')));
const reset = () => [1, 2, 3, 4, 5].forEach((i) => rmSync(guestFile(i, 'tmp/done'), { force: true }));
let n = 0;
function book(text: string): string {
  const dir = join(F().state, `canary${++n}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'play.yaml'), text);
  return join(dir, 'play.yaml');
}
/** Fails on the guests whose index is in `bad`; the last step marks a guest that got to the end. */
const failing = (bad: number[]) => book([
  'steps:',
  `  - run: 'case " ${bad.join(' ')} " in *" {{ index }} "*) echo "refused on {{ host }}" >&2; exit 3;; esac'`,
  '  - run: touch /tmp/done',
].join('\n'));

describe('fleet play --canary', () => {
  it('a failing canary stops the play before any other guest starts, and the summary names it', async () => {
    reset();
    const r = await fleet('play', ...sel(), '--canary', '2', failing([2]));
    expect(r.code).toBe(1);
    expect(done()).toEqual([1]);
    expect(r.out).toContain('canary: guest002 did not finish the playbook; the other 3 guests were not started\n');
    expect(r.out).toMatch(/play: 1 ok, 1 failed, 3 not run of 5 guests/);

    reset();
    const j = await fleet('play', ...sel(), '--canary', '2', '--json', failing([1, 2]));
    expect(jsonLines(j.out).at(-1)!.summary).toMatchObject({ ok: 0, failed: 2, notRun: 3, canaryGuests: 2, canaryFailed: 2 });
    expect(done()).toEqual([]);
  });

  it('canaries that pass let the rest roll out, with --batch and --max-fail as for run', async () => {
    reset();
    const all = await fleet('play', ...sel(), '--canary', '2', '--json', failing([]));
    expect(all.code).toBe(0);
    expect(jsonLines(all.out).at(-1)!.summary).toMatchObject({ ok: 5, notRun: 0, canaryGuests: 2, canaryFailed: 0 });
    expect(done()).toEqual([1, 2, 3, 4, 5]);

    // Canary guest001 passes; the rest in batches of one; guest003 fails and the budget (0) stops the rest.
    reset();
    const r = await fleet('play', ...sel(), '--canary', '1', '--batch', '1', '--max-fail', '0', '--json', failing([3]));
    expect(r.code).toBe(1);
    expect(jsonLines(r.out).at(-1)!.summary).toMatchObject({ ok: 2, failed: 1, notRun: 2 });
    expect(done()).toEqual([1, 2]);
  });

  it('refuses a canary count that is not a positive whole number before connecting', async () => {
    for (const bad of ['0', 'two', '-1']) {
      const r = await fleet('play', ...sel(), '--canary', bad, failing([]));
      expect(r.code, bad).toBe(2);
      expect(r.err.trim().split('\n'), bad).toHaveLength(1);
      expect(r.err, bad).toContain('--canary');
    }
  });
});
