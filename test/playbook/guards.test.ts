// Which step commands run in the guest's shell itself (runsInShell): only lists of pipelines of simple
// commands whose programs cannot change or end that shell. Checked against the shell itself: every
// command accepted parses inside the group it is sent in, and nothing it does reaches the shell.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { inShell, runsInShell } from '../../src/playbook/guards.js';

/** Whether /bin/sh parses `script` (without running it). */
const parses = (script: string) => spawnSync('/bin/sh', ['-n', '-c', script]).status === 0;

describe('runsInShell', () => {
  it('takes programs with plain or quoted words, pipes, lists, redirections and assignments for the program', () => {
    for (const c of [
      'uname -r', 'mkdir -p /srv/app', 'date >> /var/log/x', 'head -c 4194304 /dev/zero | sha256sum > ~/sum',
      'systemctl is-active nginx && echo up || echo down', "grep -q 'a b' /etc/x", 'grep -q "host=$HOST" "$t"',
      'LANG=C sort -u /etc/hosts 2>&1 >/dev/null', 'a; b\nc', 'a &&\n b', 'test -s /x && cat /x', 'ls *.conf [ab]? ~user/x',
      'cmd 2>&1 | tee -a /tmp/log', 'x >&2', 'x 3>&-', 'printf "%s" ok',
    ]) {
      expect(runsInShell(c), c).toBe(true);
      expect(parses(inShell(c)), c).toBe(true);
    }
  });

  it('leaves to a subshell whatever could change or end the shell, or that the shell must parse to know', () => {
    for (const c of [
      'cd /tmp', 'exit 3', 'X=1', 'umask 077', 'set -e', 'trap "" EXIT', 'read x', 'exec true', '. ./env', 'source x', 'eval x', 'command -v x',
      'export X=1', 'unset X', 'true && cd /', 'a | exit', 'if true; then a; fi', 'for i in 1; do a; done', '{ a; }', '( a )', 'f() { a; }',
      'a &', 'a &> f', 'echo `id`', 'echo $(id)', 'echo ${X?}', 'echo ${X:=1}', 'echo $1', 'echo "$(id)"', 'echo "a\\"b"', "echo 'a", 'echo "a',
      'a \\\n b', 'a # comment', '#x', 'a ;; b', '; a', 'a &&', 'a |', 'a | | b', 'a && ; b', 'a <<EOF', 'a <> f', 'a >| f', 'a |& b',
      'a >&', 'fleet_apply x', "'rm' -f x", 'a\tb\u0001', '', '   ', '! a', 'wait', 'kill -9 $$', 'hash -r', 'ulimit -n 1', 'alias a=b',
    ]) expect(runsInShell(c), JSON.stringify(c)).toBe(false);
  });

  it('accepts nothing the shell cannot parse inside its group (random commands)', () => {
    const parts = ['a', 'b1', '-x', '/p/q', '"q $V w"', "'s ; t'", ' ', ' ', '|', '||', '&&', ';', '\n', '>', '>>', '<', '2>&1', '>&2',
      '#', '$', '$V', '(', ')', '{', '}', '`', '\\', '&', '"', "'", '=', 'X=1', '*', '~'];
    let seen = 0;
    let state = 12345;
    const rand = (n: number) => (state = (state * 1103515245 + 12345) % 2 ** 31) % n;
    for (let k = 0; k < 3000; k++) {
      const c = Array.from({ length: 1 + rand(8) }, () => parts[rand(parts.length)]).join('');
      if (!runsInShell(c)) continue;
      seen++;
      expect(parses(inShell(c)), JSON.stringify(c)).toBe(true);
    }
    expect(seen).toBeGreaterThan(100);
  });
});
