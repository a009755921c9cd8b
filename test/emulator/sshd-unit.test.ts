// The image's first-boot mechanisms the emulator honours: ssh.service's ExecStartPre= drop-ins as
// systemd reads them, and an empty /etc/machine-id filled at boot (never through a symlink).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bootMachineId } from '../../src/emulator/golden.js';
import { spawnSync } from 'node:child_process';
import { preStartFailure, preStartScript, sshdPreStart, type PreStart } from '../../src/emulator/sshd-unit.js';

const made: string[] = [];
const guestRoot = () => {
  const d = mkdtempSync(join(tmpdir(), 'fleet-sshd-unit-'));
  made.push(d);
  mkdirSync(join(d, 'etc'), { recursive: true });
  return d;
};
afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('sshdPreStart', () => {
  it('reads ExecStartPre= of [Service] in drop-ins sorted by name; an empty one clears the list; - ignores failure', () => {
    const g = guestRoot();
    const a = join(g, 'etc/systemd/system/ssh.service.d');
    const b = join(g, 'etc/systemd/system/sshd.service.d');
    mkdirSync(a, { recursive: true });
    mkdirSync(b, { recursive: true });
    writeFileSync(join(a, '10-first.conf'), '[Service]\nExecStartPre=/bin/false\n[Unit]\nExecStartPre=/not/a/service/line\n');
    writeFileSync(join(b, '20-keys.conf'), '# regenerate\n[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=-/usr/sbin/sshd -t\n');
    writeFileSync(join(a, 'notes.txt'), '[Service]\nExecStartPre=/bin/echo ignored\n');
    expect(sshdPreStart(g)).toEqual([
      { command: '/usr/bin/ssh-keygen -A', ignoreFailure: false, file: '/etc/systemd/system/sshd.service.d/20-keys.conf' },
      { command: '/usr/sbin/sshd -t', ignoreFailure: true, file: '/etc/systemd/system/sshd.service.d/20-keys.conf' },
    ]);
  });

  it('is empty without drop-ins, and does not read a drop-in that links out of the guest', () => {
    const g = guestRoot();
    expect(sshdPreStart(g)).toEqual([]);
    const outside = join(g, '..', `outside-${process.pid}.conf`);
    writeFileSync(outside, '[Service]\nExecStartPre=/bin/echo host file\n');
    try {
      mkdirSync(join(g, 'etc/systemd/system/ssh.service.d'), { recursive: true });
      symlinkSync(outside, join(g, 'etc/systemd/system/ssh.service.d/x.conf'));
      expect(sshdPreStart(g)).toEqual([]);
    } finally {
      rmSync(outside, { force: true });
    }
  });
});

describe('preStartScript', () => {
  const run = (steps: PreStart[]) => {
    const r = spawnSync('/bin/sh', ['-c', preStartScript(steps)], { encoding: 'utf8' });
    return { stdout: r.stdout, failure: preStartFailure(steps, { exitCode: r.status, signal: r.signal, stderr: r.stderr }) };
  };
  const step = (command: string, ignoreFailure = false): PreStart => ({ command, ignoreFailure, file: '/etc/systemd/system/ssh.service.d/x.conf' });

  it('runs every line in order, each in its own subshell, past failures marked -', () => {
    const r = run([step('cd /; x=1; echo one'), step('false', true), step('echo "${x:-unset}"')]);
    expect(r).toEqual({ stdout: 'one\nunset\n', failure: undefined });
  });

  it('stops at the first failure that counts and names it, with its status and what it printed', () => {
    const r = run([step('echo one'), step('echo broken key >&2; exit 3'), step('echo never')]);
    expect(r.stdout).toBe('one\n');
    expect(r.failure).toBe('ExecStartPre=echo broken key >&2; exit 3 (/etc/systemd/system/ssh.service.d/x.conf) failed with exit 3: broken key');
  });
});

describe('bootMachineId', () => {
  it('fills an empty or "uninitialized" machine-id once and leaves a set one alone', () => {
    const g = guestRoot();
    const file = join(g, 'etc/machine-id');
    writeFileSync(file, '');
    expect(bootMachineId(g)).toBe(true);
    const id = readFileSync(file, 'utf8');
    expect(id).toMatch(/^[0-9a-f]{32}\n$/);
    expect(bootMachineId(g)).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe(id);
    writeFileSync(file, 'uninitialized\n');
    expect(bootMachineId(g)).toBe(true);
    expect(readFileSync(file, 'utf8')).not.toBe(id);
  });

  it('never writes through a symlink, and leaves an image without the file as it is', () => {
    const g = guestRoot();
    expect(bootMachineId(g)).toBe(false);
    const target = join(g, 'target');
    writeFileSync(target, '');
    symlinkSync(target, join(g, 'etc/machine-id'));
    expect(bootMachineId(g)).toBe(false);
    expect(readFileSync(target, 'utf8')).toBe('');
  });
});
