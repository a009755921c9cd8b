// Several small file steps sent together share one `stat` of their files (taken before the first of
// them): each must still judge its own file, and a step that ran between them (and may have changed
// a file) makes the later ones look again.
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useFleet } from '../helpers/emulator.js';
import { fleet, jsonLines } from '../cli/cli-harness.js';

const F = useFleet({ guests: 2, subnet: '127.203.0.0/16', port: 2222 });

const sel = () => ['-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath];
const guestFile = (i: number, p: string) => join(F().emu.guests[i - 1]!.cfg.dir, p);
let n = 0;
function book(text: string): string {
  const dir = join(F().state, `stat${++n}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'play.yaml'), text);
  return join(dir, 'play.yaml');
}
/** Per guest: each step's status and changed-ness, as `--json` gives them. */
async function play(pb: string): Promise<string[][]> {
  const r = await fleet('play', ...sel(), '--json', pb);
  expect(r.code, r.out + r.err).toBe(0);
  return jsonLines(r.out).filter((x) => x.host).sort((a, b) => String(a.host).localeCompare(String(b.host)))
    .map((x) => (x.steps as { status: string; changed: boolean }[]).map((s) => `${s.status}${s.changed ? ' changed' : ''}`));
}
const mode = (i: number, p: string) => (statSync(guestFile(i, p)).mode & 0o777).toString(8);

describe('file steps sharing one stat', () => {
  it('judges each file by its own size, mode and content', async () => {
    const pb = book([
      'steps:',
      '  - push: {content: "alpha {{ index }}\\n", dest: /home/fleetadm/a.conf, mode: "0644"}',
      '  - push: {content: "beta\\n", dest: /home/fleetadm/b.conf, mode: "0600"}',
      '  - push: {content: "gamma\\n", dest: /home/fleetadm/c.conf}',
    ].join('\n'));
    expect(await play(pb)).toEqual([['ok changed', 'ok changed', 'ok changed'], ['ok changed', 'ok changed', 'ok changed']]);
    expect(await play(pb)).toEqual([['ok', 'ok', 'ok'], ['ok', 'ok', 'ok']]);
    // Guest 1: b's mode and c's bytes (same size) drift; guest 2: only a's content.
    chmodSync(guestFile(1, 'home/fleetadm/b.conf'), 0o640);
    writeFileSync(guestFile(1, 'home/fleetadm/c.conf'), 'GAMMA\n');
    writeFileSync(guestFile(2, 'home/fleetadm/a.conf'), 'alpha 9\n');
    expect(await play(pb)).toEqual([['ok', 'ok changed', 'ok changed'], ['ok changed', 'ok', 'ok']]);
    for (const i of [1, 2]) {
      expect(readFileSync(guestFile(i, 'home/fleetadm/a.conf'), 'utf8')).toBe(`alpha ${i}\n`);
      expect(mode(i, 'home/fleetadm/b.conf')).toBe('600');
      expect(readFileSync(guestFile(i, 'home/fleetadm/c.conf'), 'utf8')).toBe('gamma\n');
    }
  });

  it('looks again at a file after a step that ran between (it may have changed it)', async () => {
    const pb = book([
      'steps:',
      '  - push: {content: "one\\n", dest: /home/fleetadm/d.conf, mode: "0644"}',
      '  - run: test ! -e /home/fleetadm/drift || chmod 600 /home/fleetadm/e.conf',
      '  - push: {content: "two\\n", dest: /home/fleetadm/e.conf, mode: "0644"}',
    ].join('\n'));
    await play(pb);
    expect(await play(pb)).toEqual([['ok', 'ok changed', 'ok'], ['ok', 'ok changed', 'ok']]);
    // On guest 1 the run step now spoils e.conf's mode after the shared stat was taken: the file step must see it.
    writeFileSync(guestFile(1, 'home/fleetadm/drift'), '');
    expect(await play(pb)).toEqual([['ok', 'ok changed', 'ok changed'], ['ok', 'ok changed', 'ok']]);
    expect(mode(1, 'home/fleetadm/e.conf')).toBe('644');
  });
});
