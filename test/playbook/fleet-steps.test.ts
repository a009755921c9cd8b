// The playbook's fleet-wide steps: `cron` (the scheduler's apply, planned before the first step) and
// `keys` (the rotation between two phases of the play), checked when read and run on an emulated fleet.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatIssue, parsePlaybook } from '../../src/playbook/index.js';
import { fleet, jsonLines } from '../cli/cli-harness.js';
import { useFleet } from '../helpers/emulator.js';

const issuesOf = (text: string) => parsePlaybook(text, 'pb.yaml').issues.map(formatIssue);

describe('cron and keys steps, read', () => {
  it('takes the options of fleet cron apply and fleet keys rotate, with their defaults', () => {
    const r = parsePlaybook([
      'steps:',
      '  - cron: {job: nightly, command: /usr/local/bin/nightly, window: "22:00-04:00", slot: 10, cap: 3, cron-d: true}',
      '  - keys: {cloned-only: true, types: "ed25519,ecdsa", journal: rot.jsonl}',
    ].join('\n'), '/pb/pb.yaml');
    expect(r.issues).toEqual([]);
    const [cron, keys] = r.playbook!.steps;
    expect(cron).toMatchObject({ name: 'cron: fleet:nightly', sudo: true });
    expect(cron!.action).toMatchObject({
      kind: 'cron', backup: true, fresh: false,
      job: { job: 'nightly', place: 'cron.d', user: 'root', timing: { kind: 'window', window: '22:00-04:00', slotMinutes: 10, cap: 3 } },
    });
    expect(keys!.action).toEqual({ kind: 'keys', clonedOnly: true, types: ['ed25519', 'ecdsa'], restartCommand: null, confirmWith: null, journal: '/pb/rot.jsonl', revoke: true });
  });

  it('refuses what fleet cron apply and fleet keys rotate refuse, where it is written', () => {
    expect(issuesOf('steps:\n  - cron: {replace-run-crons: true, command: x}\n')).toEqual([
      'pb.yaml:2:5: replace-run-crons writes the direct calls of the cron scripts itself; drop command',
    ]);
    expect(issuesOf('steps:\n  - cron: {job: n, command: x, slot: soon}\n')).toEqual(['pb.yaml:2:5: invalid slot "soon": expected minutes like 12m, 12 or 1h']);
    expect(issuesOf('steps:\n  - cron: {job: n, comand: x}\n')).toEqual(["pb.yaml:2:20: unknown key 'comand' (did you mean 'command'?)"]);
    expect(issuesOf('steps:\n  - keys: {types: [ed25519, dsa]}\n')).toEqual(["pb.yaml:2:5: types takes a list of ed25519, ecdsa, rsa, got 'ed25519,dsa'"]);
    expect(issuesOf('steps:\n  - keys: {}\n    when: test -e /x\n')).toEqual([
      'pb.yaml:3:5: when does not apply to a keys step: the rotation runs once for every guest that reaches it',
    ]);
  });

  it('defines {{ slot }} and {{ start }} only with a windowed cron step', () => {
    expect(issuesOf('steps:\n  - run: echo {{ slot }}\n')).toEqual([]); // names are checked per guest by fleet play
    expect(parsePlaybook('steps:\n  - cron: {job: n, command: x, schedule: "H H * * *"}\n', 'pb.yaml').issues).toEqual([]);
  });
});

const F = useFleet({ guests: 4, subnet: '127.151.0.0/16', port: 2222 });
const sel = () => ['-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath];
let n = 0;
function book(lines: string[]): string {
  const dir = join(F().state, `pb${++n}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'play.yaml'), lines.join('\n'));
  return join(dir, 'play.yaml');
}
const guests = (out: string) => jsonLines(out).filter((x) => x.host);

describe('cron and keys steps, run', () => {
  it('cron: {{ slot }} and {{ start }} from the plan in every step, the block written once, --check diffs it', async () => {
    const pb = book([
      'steps:',
      '  - name: before',
      '    run: echo "{{ start }} {{ slot }}"',
      '    check: safe',
      '  - name: nightly',
      '    cron: {job: nightly, command: /usr/bin/true nightly, window: "01:00-02:00", slot: 15m, cap: 1, cron-d: true}',
    ]);
    const check = await fleet('play', ...sel(), '--json', '--check', pb);
    expect(check.code, check.out + check.err).toBe(0);
    const starts = guests(check.out).map((g) => g.steps[0].stdout.trim());
    // Four slots of 15 minutes, cap 1: every guest has a slot of its own.
    expect(new Set(starts).size).toBe(4);
    for (const g of guests(check.out)) {
      expect(g.steps[1]).toMatchObject({ changed: true, note: expect.stringMatching(/^would change \/etc\/cron\.d\/fleet-nightly/), diff: expect.stringContaining('+# BEGIN fleet:nightly') });
    }
    const file = (i: number) => join(F().emu.guests[i]!.cfg.dir, 'etc/cron.d/fleet-nightly');
    expect(() => readFileSync(file(0))).toThrow();

    const first = await fleet('play', ...sel(), '--json', pb);
    expect(first.code, first.out + first.err).toBe(0);
    for (const [i, g] of guests(first.out).entries()) {
      const [start, slot] = g.steps[0].stdout.trim().split(' ');
      expect(starts[i]).toBe(`${start} ${slot}`);
      const [hh, mm] = start.split(':').map(Number);
      expect(readFileSync(file(i), 'utf8')).toMatch(new RegExp(`^${mm} ${hh} \\* \\* \\* root /usr/bin/true nightly$`, 'm'));
      expect(g.steps[1]).toMatchObject({ status: 'ok', changed: true });
    }
    const again = await fleet('play', ...sel(), '--json', pb);
    expect(jsonLines(again.out).at(-1)!.summary).toMatchObject({ ok: 4, changed: 0 });
  });

  it('keys: registered values and if-changed reach across the rotation; a refused rotation stops the guests there', async () => {
    const pb = book([
      'steps:',
      '  - name: id',
      '    run: hostname',
      '    register: id',
      '  - name: rotate',
      '    keys: {cloned-only: true}',
      '  - name: after',
      '    run: echo "{{ id.stdout }} rotated"',
      '    if-changed: rotate',
    ]);
    const first = await fleet('play', ...sel(), '--json', pb);
    expect(first.code, first.out + first.err).toBe(0);
    for (const g of guests(first.out)) {
      expect(g.steps.map((s: any) => [s.status, s.changed])).toEqual([['ok', true], ['ok', true], ['ok', true]]);
      expect(g.steps[2].stdout).toBe(`${g.steps[0].stdout} rotated\n`);
    }
    const again = await fleet('play', ...sel(), '--json', pb);
    expect(again.code, again.out + again.err).toBe(0);
    expect(guests(again.out)[0]!.steps.map((s: any) => s.status)).toEqual(['ok', 'ok', 'skipped']);

    // An interrupted rotation in the journal: the step fails with the rotation's words, nothing after runs.
    const journal = `${F().emu.knownHostsPath}.rotate.jsonl`;
    const kept = readFileSync(journal, 'utf8');
    const open = kept.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.type === 'run').at(-1);
    writeFileSync(journal, `${kept}${JSON.stringify({ ...open, run: 'cut-short', at: new Date().toISOString() })}\n`);
    const refused = await fleet('play', ...sel(), '--json', pb);
    expect(refused.code).toBe(1);
    const g = guests(refused.out)[0]!;
    expect(g.steps.map((s: any) => s.status)).toEqual(['ok', 'failed', 'not-run']);
    expect(g.steps[1].error).toMatch(/was interrupted: finish it first with `fleet keys rotate --resume`/);
    writeFileSync(journal, kept);
  });
});
