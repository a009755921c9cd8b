// How a step runs in the guest's long-lived shell: in a subshell (no `sh` started per step), or in the
// shell itself when it is a plain built-in, so that steps and conditions made of built-ins start no
// guest process at all (counted by the guest's PID namespace: /proc/sys/kernel/ns_last_pid). Also
// what that must keep: nothing a step does (cd, variables, umask, exit, a syntax error) reaches the
// next step or ends the shell; a changed file gets exactly its mode.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useFleet } from '../helpers/emulator.js';
import { fleet, jsonLines } from '../cli/cli-harness.js';

const F = useFleet({ guests: 2, subnet: '127.172.0.0/16', port: 2222 });

const sel = () => ['-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath];
let n = 0;
function book(text: string): string {
  const dir = join(F().state, `steps${++n}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'play.yaml'), text);
  return join(dir, 'play.yaml');
}
const LAST_PID = 'cat /proc/sys/kernel/ns_last_pid';

describe('steps in the guest shell', () => {
  it('starts no guest process for steps and conditions that are plain built-ins', async () => {
    const pb = book([
      'steps:',
      `  - run: ${LAST_PID}`,
      '    register: before',
      '    check: safe',
      '  - run: test -e /etc/passwd',
      '  - run: echo hello > /tmp/built-in',
      '    unless: test -e /tmp/never',
      '  - run: "[ -s /tmp/built-in ]"',
      '    when: test -e /etc/passwd',
      '  - run: printf %s done',
      '    creates: /tmp/never',
      '  - run: uname -r',
      '    creates: /etc/passwd',
      `  - run: ${LAST_PID}`,
      '    register: after',
      '    check: safe',
    ].join('\n'));
    const r = await fleet('play', ...sel(), 'guest001', '--json', pb);
    expect(r.code, r.out + r.err).toBe(0);
    const steps = jsonLines(r.out)[0]!.steps;
    expect(steps.map((s: any) => s.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'skipped', 'ok']);
    // Only the second `cat` started a process (its subshell execs it): a shell per step would be 5 more.
    expect(Number(steps[6].stdout) - Number(steps[0].stdout)).toBe(1);
  });

  it('starts no more guest processes than a script would: programs, pipelines and validators in the shell itself', async () => {
    const pb = book([
      'steps:',
      '  - run: echo 0 > /tmp/clob',
      `  - run: ${LAST_PID}`,
      '    register: before',
      '    check: safe',
      '  - run: head -c 10 /dev/zero | wc -c > /tmp/count',
      '  - template: {content: "a=1\\n", dest: /tmp/v.conf, mode: "0644", validate: "sh -c \'umask > /tmp/um\' && printf 1 > /tmp/clob && grep -q a= %s"}',
      '  - push: {content: "b\\n", dest: /tmp/plain}',
      `  - run: ${LAST_PID}`,
      '    register: after',
      '    check: safe',
    ].join('\n'));
    const r = await fleet('play', ...sel(), 'guest002', '--json', pb);
    expect(r.code, r.out + r.err).toBe(0);
    const steps = jsonLines(r.out)[0]!.steps;
    // head and wc; the file's check-and-install subshell, the validator's sh and grep, its mv; the
    // plain file's subshell and mv; the last cat. A subshell per step, per validator and per write
    // made it 12.
    expect(Number(steps[5].stdout) - Number(steps[1].stdout)).toBe(2 + 4 + 2 + 1);
    const guest = (p: string) => readFileSync(join(F().emu.guests[1]!.cfg.dir, 'tmp', p), 'utf8');
    expect(guest('count')).toBe('10\n');
    expect(guest('v.conf')).toBe('a=1\n');
    expect((statSync(join(F().emu.guests[1]!.cfg.dir, 'tmp', 'v.conf')).mode & 0o777).toString(8)).toBe('644');
    // The validator ran with the shell's own umask and without noclobber (both were for the write only).
    expect(guest('um')).toBe('0022\n');
    expect(guest('clob')).toBe('1');
  });

  it('keeps steps apart: cd, variables, umask, exit and a syntax error stay in their step; the shell lives on', async () => {
    const pb = book([
      'steps:',
      `  - run: cd /tmp; X=1; umask 077; trap 'echo bye' EXIT; exit 0`,
      `  - run: 'test "$PWD" != /tmp && test -z "\${X-}" && test "$(umask)" != 0077 && echo clean'`,
      '  - run: echo never',
      '    when: "test ( -e /etc/passwd"',
      '  - run: echo "$$"',
      '  - run: echo "$$"',
      '  - run: "echo ("',
    ].join('\n'));
    const r = await fleet('play', ...sel(), 'guest002', '--json', pb);
    expect(r.code).toBe(1);
    const steps = jsonLines(r.out)[0]!.steps;
    expect(steps.map((s: any) => s.status)).toEqual(['ok', 'ok', 'skipped', 'ok', 'ok', 'failed']);
    expect(steps[0].stdout).toBe('bye\n');
    expect(steps[1].stdout).toBe('clean\n');
    expect(steps[3].stdout).toBe(steps[4].stdout); // one shell for the guest, still the same after the syntax error in a condition
    expect(steps[5].error).toMatch(/exit status 2: .*[Ss]yntax error/);
  });

  it('gives a changed file exactly its mode, by the umask where it can and by chmod where it cannot', async () => {
    const pb = book([
      'steps:',
      '  - push: {content: "a\\n", dest: /tmp/m600, mode: "0600"}',
      '  - push: {content: "b\\n", dest: /tmp/m755, mode: "0755"}',
      '  - push: {content: "c\\n", dest: /tmp/m640, mode: "0640"}',
      '  - push: {content: "d\\u00e9\\n", dest: /tmp/m604, mode: "0604"}',
    ].join('\n'));
    const r = await fleet('play', ...sel(), 'guest001', pb);
    expect(r.code, r.out + r.err).toBe(0);
    const mode = (p: string) => (statSync(join(F().emu.guests[0]!.cfg.dir, 'tmp', p)).mode & 0o7777).toString(8);
    expect(['m600', 'm755', 'm640', 'm604'].map(mode)).toEqual(['600', '755', '640', '604']);
    const again = await fleet('play', ...sel(), 'guest001', '--json', pb);
    expect(jsonLines(again.out)[0]!.steps.map((s: any) => s.changed)).toEqual([false, false, false, false]);
  });
});
