// `fleet play` end to end, in-process through main(), against an emulated fleet: steps over one
// connection, guards, if-changed, register, retries, stop at the first failure, --check, JSON.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useFleet } from '../helpers/emulator.js';
import { fleet, jsonLines } from '../cli/cli-harness.js';

const F = useFleet({ guests: 4, subnet: '127.145.0.0/16', port: 2222 });

const sel = () => ['-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath];
const guestFile = (i: number, p: string) => join(F().emu.guests[i - 1]!.cfg.dir, p);
let n = 0;
/** Writes a playbook (and side files) into a fresh directory; returns its path. */
function book(text: string, files: Record<string, string> = {}): string {
  const dir = join(F().state, `pb${++n}`);
  mkdirSync(dir);
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  writeFileSync(join(dir, 'play.yaml'), text);
  return join(dir, 'play.yaml');
}
const steps = (out: string) => Object.fromEntries(jsonLines(out).filter((x) => x.host).map((x) => [x.host, x.steps.map((s: any) => (s.status === 'ok' ? (s.changed ? 'changed' : 'unchanged') : s.status))]));

describe('fleet play', () => {
  it('templates a file, restarts only where it changed, registers output; a second run changes nothing', async () => {
    const pb = book([
      'name: motd',
      'vars: {greeting: hello}',
      'steps:',
      '  - name: motd',
      '    template: {src: motd.tmpl, dest: /home/fleetadm/motd, mode: "0640"}',
      '  - name: reload',
      '    run: echo reloaded >> /home/fleetadm/reloads',
      '    if-changed: motd',
      '  - name: read back',
      '    run: cat /home/fleetadm/motd',
      '    register: motd_now',
      '    check: safe',
      '  - name: echo',
      '    push: {content: "{{ motd_now.stdout }}", dest: /home/fleetadm/copy}',
    ].join('\n'), { 'motd.tmpl': '{{ greeting }} from {{ host }} ({{ address }}), #{{ index }}\n' });
    const first = await fleet('play', ...sel(), pb);
    expect(first.code, first.err + first.out).toBe(0);
    expect(first.out).toContain('guest[001-004] (4)');
    expect(first.out).toMatch(/ 1 ok changed\s+motd\n/);
    expect(first.out).toMatch(/ 3 ok unchanged\s+read back\n/);
    expect(first.out).toContain('play: 4 ok of 4 guests');
    for (let i = 1; i <= 4; i++) {
      const want = `hello from guest00${i} (${F().emu.guests[i - 1]!.cfg.address}), #${i}\n`;
      expect(readFileSync(guestFile(i, 'home/fleetadm/motd'), 'utf8')).toBe(want);
      expect(statSync(guestFile(i, 'home/fleetadm/motd')).mode & 0o7777).toBe(0o640);
      expect(readFileSync(guestFile(i, 'home/fleetadm/copy'), 'utf8')).toBe(want);
      expect(readFileSync(guestFile(i, 'home/fleetadm/reloads'), 'utf8')).toBe('reloaded\n');
    }
    const second = await fleet('play', ...sel(), '--json', pb);
    expect(second.code).toBe(0);
    expect(steps(second.out).guest001).toEqual(['unchanged', 'skipped', 'unchanged', 'unchanged']);
    expect(jsonLines(second.out).at(-1)!.summary).toMatchObject({ ok: 4, total: 4, changed: 0, stepsChanged: 0 });
    // Only one guest's file changed: only it reloads.
    writeFileSync(guestFile(3, 'home/fleetadm/motd'), 'edited by hand\n');
    const third = await fleet('play', ...sel(), '--json', pb);
    expect(steps(third.out)).toMatchObject({ guest002: ['unchanged', 'skipped', 'unchanged', 'unchanged'], guest003: ['changed', 'changed', 'unchanged', 'unchanged'] });
    expect(readFileSync(guestFile(3, 'home/fleetadm/reloads'), 'utf8')).toBe('reloaded\nreloaded\n');
    expect(readFileSync(guestFile(2, 'home/fleetadm/reloads'), 'utf8')).toBe('reloaded\n');
  });

  it('skips steps by when, creates and unless, tested on each guest', async () => {
    const pb = book([
      'steps:',
      '  - run: touch /tmp/when-{{ index }}',
      '    when: test {{ index }} -le 2',
      '  - run: touch /tmp/created',
      '    creates: /tmp/created',
      '  - run: echo again >> /tmp/unless',
      '    unless: grep -q again /tmp/unless',
    ].join('\n'));
    const r = await fleet('play', ...sel(), '--json', pb);
    expect(r.code, r.out).toBe(0);
    expect(steps(r.out)).toEqual({
      guest001: ['changed', 'changed', 'changed'], guest002: ['changed', 'changed', 'changed'],
      guest003: ['skipped', 'changed', 'changed'], guest004: ['skipped', 'changed', 'changed'],
    });
    expect(existsSync(guestFile(3, 'tmp/when-3'))).toBe(false);
    const again = await fleet('play', ...sel(), '--json', pb);
    expect(steps(again.out).guest001).toEqual(['changed', 'skipped', 'skipped']);
    expect(jsonLines(again.out)[0]!.steps[1].note).toBe('creates: /tmp/created exists');
  });

  it('retries a step until it passes, and stops a guest at its first failed step while others go on', async () => {
    const pb = book([
      'steps:',
      '  - name: health',
      '    run: n=$(cat /tmp/tries 2>/dev/null || echo 0); echo $((n+1)) > /tmp/tries; [ $n -ge 2 ]',
      '    retries: 3',
      '    delay: 0',
      '  - name: picky',
      '    run: test {{ index }} -ne 2 || { echo "guest two refuses" >&2; exit 7; }',
      '  - name: after',
      '    run: touch /tmp/after',
    ].join('\n'));
    const r = await fleet('play', ...sel(), '--json', pb);
    expect(r.code).toBe(1);
    const rows = jsonLines(r.out);
    expect(rows[0]!.steps[0]).toMatchObject({ status: 'ok', attempts: 3 });
    expect(steps(r.out).guest002).toEqual(['changed', 'failed', 'not-run']);
    expect(steps(r.out).guest001).toEqual(['changed', 'changed', 'changed']);
    const g2 = rows.find((x) => x.host === 'guest002')!;
    expect(g2).toMatchObject({ status: 'failed', exitCode: 7, error: 'guest002: step 2 (picky): exit status 7: guest two refuses' });
    expect(existsSync(guestFile(2, 'tmp/after'))).toBe(false);
    expect(existsSync(guestFile(1, 'tmp/after'))).toBe(true);
    const human = await fleet('play', ...sel(), 'guest002', pb);
    expect(human.out).toContain('guest002 (1)  failed');
    expect(human.out).toContain('stopped before step 3 (after)');
  });

  it('feeds a local script to sh -s, and validates a file before installing it', async () => {
    const pb = book([
      'steps:',
      '  - script: fix.sh',
      '  - name: conf',
      '    push: {content: "{{ value }}\\n", dest: /home/fleetadm/app.json, validate: "python3 -m json.tool %s", backup: true}',
    ].join('\n'), { 'fix.sh': 'set -e\necho "fixed on $(hostname)" > /tmp/fixed\n' });
    const good = await fleet('play', ...sel(), '--json', '-e', 'value={"a": 1}', pb);
    expect(good.code, good.out).toBe(0);
    expect(readFileSync(guestFile(1, 'tmp/fixed'), 'utf8')).toBe('fixed on guest001\n');
    expect(readFileSync(guestFile(1, 'home/fleetadm/app.json'), 'utf8')).toBe('{"a": 1}\n');
    const bad = await fleet('play', ...sel(), '--json', '-e', 'value={"a": ', pb);
    expect(bad.code).toBe(1);
    const step = jsonLines(bad.out)[0]!.steps[1];
    expect(step).toMatchObject({ status: 'failed' });
    expect(step.error).toMatch(/^validate: python3 -m json.tool %s refused the new \/home\/fleetadm\/app.json \(exit status 1: .+\); the guest's file is unchanged$/);
    expect(readFileSync(guestFile(1, 'home/fleetadm/app.json'), 'utf8')).toBe('{"a": 1}\n');
  });

  it('--check changes nothing: diffs for files, "would run" unless check: safe', async () => {
    writeFileSync(guestFile(1, 'home/fleetadm/check.conf'), 'a=1\nb=2\n');
    const pb = book([
      'steps:',
      '  - name: conf',
      '    push: {content: "a=1\\nb=3\\n", dest: /home/fleetadm/check.conf}',
      '  - run: touch /tmp/check-ran',
      '  - run: touch /tmp/check-safe',
      '    check: safe',
    ].join('\n'));
    const r = await fleet('play', ...sel(), 'guest001', '--check', pb);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('would change /home/fleetadm/check.conf');
    expect(r.out).toMatch(/-b=2\n\s+\+b=3\n/);
    expect(r.out).toMatch(/ 2 ok changed\s+run: touch \/tmp\/check-ran \(would run\)/);
    expect(readFileSync(guestFile(1, 'home/fleetadm/check.conf'), 'utf8')).toBe('a=1\nb=2\n');
    expect(existsSync(guestFile(1, 'tmp/check-ran'))).toBe(false);
    expect(existsSync(guestFile(1, 'tmp/check-safe'))).toBe(true);
  });

  it('Ctrl-C: running steps finish, no new step starts, the summary says where each guest stopped', async () => {
    const pb = book(['steps:', '  - run: touch /tmp/int-started; sleep 1', '  - run: touch /tmp/int-second', ''].join('\n'));
    const running = fleet('play', ...sel(), 'guest001', '--json', pb);
    while (!existsSync(guestFile(1, 'tmp/int-started'))) await new Promise((r) => setTimeout(r, 20));
    process.emit('SIGINT');
    const r = await running;
    expect(r.code).toBe(1);
    expect(r.err).toContain('interrupted');
    expect(steps(r.out).guest001).toEqual(['changed', 'not-run']);
    expect(jsonLines(r.out)[0]).toMatchObject({ status: 'failed', error: 'guest001: interrupted before step 2 (run: touch /tmp/int-second)' });
    expect(existsSync(guestFile(1, 'tmp/int-second'))).toBe(false);
  });

  it('refuses an invalid playbook before connecting: one line per problem, exit 2', async () => {
    const pb = book(['steps:', '  - run: touch /tmp/never', '  - run: echo {{ nope }}', '    retry: 2', ''].join('\n'));
    const r = await fleet('play', ...sel(), pb);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`fleet: ${pb}:4:5: unknown key 'retry' (did you mean 'retries'?)\n`);
    const v = await fleet('play', ...sel(), book('steps:\n  - run: touch /tmp/never\n  - run: echo {{ nope }}\n'));
    expect(v.code).toBe(2);
    expect(v.err).toMatch(/:3:15: undefined variable \{\{ nope \}\}; define it in vars:, the inventory or with -e nope=VALUE\n$/);
    expect(existsSync(guestFile(1, 'tmp/never'))).toBe(false);
  });
});
