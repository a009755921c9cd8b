// `fleet play` runs a guest's steps through one long-lived guest shell (and one root shell for sudo
// steps) instead of one guest command per step and per condition: seen on the guest as the process
// each step runs under (its parent). Also what that
// shell must keep: output and exit status per step, stdin from `script`, timeouts, sudo refused.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useFleet } from '../helpers/emulator.js';
import { fleet, jsonLines } from '../cli/cli-harness.js';

const F = useFleet({ guests: 3, subnet: '127.155.0.0/16', port: 2222 });

const sel = () => ['-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath];
const guestFile = (i: number, p: string) => join(F().emu.guests[i - 1]!.cfg.dir, p);
let n = 0;
function book(text: string, files: Record<string, string> = {}): string {
  const dir = join(F().state, `shell${++n}`);
  mkdirSync(dir);
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  writeFileSync(join(dir, 'play.yaml'), text);
  return join(dir, 'play.yaml');
}
const lines = (i: number, p: string) => readFileSync(guestFile(i, p), 'utf8').trim().split('\n');
/** The process a step runs under: its parent's PID and start time (a process that is gone cannot match). */
const NS = 'echo "$PPID:$(cut -d" " -f22 /proc/$PPID/stat)"';

describe('fleet play through the guest shell', () => {
  it('runs every step of a guest in one guest process (one more for its sudo steps), conditions and files included', async () => {
    // The yardstick: two `fleet run` commands are two guest processes.
    for (let k = 0; k < 2; k++) expect((await fleet('run', ...sel(), 'guest001', '--', `${NS} >> /tmp/ns-run`)).code).toBe(0);
    expect(new Set(lines(1, "tmp/ns-run")).size, lines(1, "tmp/ns-run").join(",")).toBe(2);

    const pb = book([
      'steps:',
      `  - run: ${NS} >> /tmp/ns`,
      `  - run: ${NS} >> /tmp/ns`,
      '    creates: /nonexistent',
      '  - name: conf',
      '    template: {content: "index={{ index }}\\n", dest: /home/fleetadm/conf, validate: "grep -q index= %s"}',
      `  - run: ${NS} >> /tmp/ns`,
      '    if-changed: conf',
      '    unless: test -e /tmp/never',
      `  - run: ${NS} >> /tmp/ns-root`,
      '    sudo: true',
      `  - run: ${NS} >> /tmp/ns-root; ${NS} >> /tmp/ns`,
      '    sudo: true',
      '    when: test -e /home/fleetadm/conf',
    ].join('\n'));
    const r = await fleet('play', ...sel(), '--json', pb);
    expect(r.code, r.out).toBe(0);
    for (let i = 1; i <= 3; i++) {
      const user = new Set(lines(i, 'tmp/ns'));
      const root = new Set(lines(i, 'tmp/ns-root'));
      expect(lines(i, 'tmp/ns')).toHaveLength(4);
      expect(user.size).toBe(2); // the login user's shell, and root's (the last step)
      expect(root.size).toBe(1);
      expect(user).toContain([...root][0]);
      expect(readFileSync(guestFile(i, 'home/fleetadm/conf'), 'utf8')).toBe(`index=${i}\n`);
    }
    const again = await fleet('play', ...sel(), '--json', pb);
    expect(jsonLines(again.out)[0]!.steps.map((s: any) => s.status === 'ok' ? (s.changed ? 'changed' : 'unchanged') : s.status))
      .toEqual(['changed', 'changed', 'unchanged', 'skipped', 'changed', 'changed']);
  });

  it('keeps each step\'s output, exit status and stdin apart; a timed-out step stops its guest; sudo refused is said', async () => {
    const pb = book([
      'steps:',
      '  - run: printf "no newline"; printf "err" >&2',
      '    register: a',
      '    check: safe',
      '  - script: in.sh',
      '    register: b',
      `  - run: 'test "{{ a.stdout }}|{{ b.stdout }}" = "no newline|read: line two" || exit 9'`,
      '  - run: "{{ cmd }}"',
      '  - run: touch /tmp/after-{{ index }}',
    ].join('\n'), { 'in.sh': 'x="line two"\nprintf "read: %s" "$x"\n' });
    const ok = await fleet('play', ...sel(), 'guest001', '--json', '-e', 'cmd=true', pb);
    expect(ok.code, ok.out + ok.err).toBe(0);
    const steps = jsonLines(ok.out)[0]!.steps;
    expect(steps[0]).toMatchObject({ stdout: 'no newline', stderr: 'err' });

    const slow = await fleet('play', ...sel(), 'guest002', '--json', '--timeout', '1', '-e', 'cmd=sleep 30', pb);
    expect(slow.code).toBe(1);
    const row = jsonLines(slow.out)[0]!;
    expect(row.status).toBe('timeout');
    expect(row.steps.map((s: any) => s.status)).toEqual(['ok', 'ok', 'ok', 'failed', 'not-run']);

    const refused = await fleet('play', ...sel(), 'guest003', '-u', 'operator', '--json', book('steps:\n  - run: "true"\n  - run: id -u\n    sudo: true\n'));
    expect(refused.code).toBe(1);
    const s = jsonLines(refused.out)[0]!.steps[1];
    expect(s.status).toBe('failed');
    expect(s.error).toMatch(/sudo/);
  });
});
