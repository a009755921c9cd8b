import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { proxyCommandAsJump, proxyFromCommand, proxyFromSshArgs } from '../../src/ssh/ssh-config-proxy.js';
import { fleet, jsonLines } from '../cli/cli-harness.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-proxy-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// Expected values are what Ansible's shlex.split (ssh args) and sh -c (ProxyCommand) make of the text.
describe('ansible_ssh_common_args are split as Ansible does (shlex.split)', () => {
  it('reads an escaped double quote inside double quotes', () => {
    expect(proxyFromSshArgs('-o ProxyCommand="ssh -W %h:%p -q \\"ops@bastion\\""')).toEqual({ jump: [{ host: 'bastion', user: 'ops' }] });
  });

  it('keeps a backslash before $ inside double quotes, for the shell to read', () => {
    // shlex gives sh `\\$HOME`: an escaped backslash, then $HOME, which sh expands; so it runs as a command.
    expect(proxyFromSshArgs('-o "ProxyCommand=ssh -W %h:%p -i \\\\\\$HOME/k bastion"')).toEqual({ proxyCommand: 'ssh -W %h:%p -i \\\\$HOME/k bastion' });
    // shlex gives sh `\$HOME`, a literal `$HOME`.
    expect(proxyFromSshArgs('-o "ProxyCommand=ssh -W %h:%p -i \\$HOME/k bastion"')).toEqual({ jump: [{ host: 'bastion', identityFile: '$HOME/k' }] });
  });

  it('separates words at a carriage return and trims each word', () => {
    expect(proxyFromSshArgs('-J\rbastion')).toEqual({ jump: [{ host: 'bastion' }] });
    expect(proxyFromSshArgs('-o " ProxyJump=j1 "')).toEqual({ jump: [{ host: 'j1' }] });
  });

  it('refuses what shlex refuses: an unterminated quote, a backslash at the very end', () => {
    expect(() => proxyFromSshArgs('-o ProxyCommand="ssh -W %h:%p bastion')).toThrow(/unterminated " quote/);
    expect(() => proxyFromSshArgs('-J bastion\\')).toThrow(/nothing after the final backslash/);
  });
});

describe('a ProxyCommand is a jump only when sh would run exactly those words', () => {
  it('reads an escaped double quote inside double quotes as sh does', () => {
    expect(proxyCommandAsJump('ssh -W %h:%p "ops@bastion" -o "LogLevel=\\"ERROR\\""')).toEqual({ host: 'bastion', user: 'ops' });
  });

  it('leaves commands that sh expands or redirects to sh', () => {
    for (const cmd of [
      'ssh -W %h:%p $BASTION',
      'ssh -W %h:%p "${BASTION}"',
      'ssh -W %h:%p `cat /etc/bastion`',
      'ssh -i $HOME/.ssh/k -W %h:%p bastion',
      'ssh -W %h:%p bastion; logger done',
      'ssh -W %h:%p bastion&',
      'ssh -W %h:%p bastion|tee',
      'ssh -W %h:%p bastion*',
      'ssh -W %h:%p ~ops/bastion',
    ]) {
      expect(proxyCommandAsJump(cmd), cmd).toBeNull();
      expect(proxyFromCommand(cmd), cmd).toEqual({ proxyCommand: cmd });
    }
  });

  it('takes what sh takes literally: single quotes, escapes, a trailing comment, ~/', () => {
    expect(proxyCommandAsJump("ssh -o 'LogLevel $x' -W %h:%p bastion")).toEqual({ host: 'bastion' });
    expect(proxyCommandAsJump('ssh -W %h:%p bast\\ion')).toEqual({ host: 'bastion' });
    expect(proxyCommandAsJump('ssh -W %h:%p bastion # via the bastion')).toEqual({ host: 'bastion' });
    expect(proxyCommandAsJump('ssh -i ~/.ssh/k -W [%h]:%p bastion')).toEqual({ host: 'bastion', identityFile: '~/.ssh/k' });
  });
});

describe('fleet inventory with an escaped quote in ansible_ssh_common_args', () => {
  it('resolves the jump host instead of refusing the line', async () => {
    const inv = join(dir, 'hosts');
    await writeFile(inv, '[db]\ndb1 ansible_ssh_common_args="-o ProxyCommand=\\"ssh -W %h:%p -q ops@bastion\\""\n');
    const r = await fleet('inventory', '-i', inv, '--ssh-config', 'none', '--json');
    expect([r.code, r.err]).toEqual([0, '']);
    const [row] = jsonLines(r.out);
    expect(row.jump).toMatchObject([{ host: 'bastion', user: 'ops' }]);
    expect(row.from.jump).toBe(`inventory ${inv}:2 (ansible_ssh_common_args)`);
  });

  it('still refuses an unterminated quote with file:line, exit 2', async () => {
    const inv = join(dir, 'open');
    await writeFile(inv, '[db]\ndb1 ansible_ssh_common_args="-o ProxyCommand=\\"ssh -W %h:%p bastion"\n');
    const r = await fleet('inventory', '-i', inv, '--ssh-config', 'none', '--json');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(`fleet: ${inv}:2: `);
    expect(r.err).toMatch(/unterminated " quote/);
  });
});
