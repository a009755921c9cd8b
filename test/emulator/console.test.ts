// The hypervisor console: a root command on a guest without SSH, through the library, the control
// socket and the CLI; it still works while the guest's sshd is down.
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { controlRequest } from '../../src/emulator/index.js';
import { useFleet } from '../helpers/emulator.js';

const F = useFleet({ guests: 3, subnet: '127.96.0.0/16', port: 2222 });

describe('emulator console', () => {
  it('runs as root on that guest only, with its own files', async () => {
    const g2 = F().emu.guest('guest002');
    const r = await g2.consoleExec('id -u; hostname; cat /etc/ssh/ssh_host_ed25519_key.pub');
    expect(r.exitCode).toBe(0);
    const [uid, host, pub] = r.stdout.toString().trim().split('\n');
    expect(uid).toBe('0');
    expect(host).toBe('guest002');
    expect(F().emu.publicHostKeys(g2)).toContain(pub!.split(' ').slice(0, 2).join(' '));
  });

  it('reports exit status and stderr, takes stdin, and works while sshd is stopped', async () => {
    const g3 = F().emu.guest('guest003');
    await g3.stopSshd();
    try {
      const r = await g3.consoleExec('cat > /tmp/fromconsole; echo oops >&2; exit 5', Buffer.from('hello'));
      expect(r).toMatchObject({ exitCode: 5 });
      expect(r.stderr.toString()).toBe('oops\n');
      const back = await g3.consoleExec('cat /tmp/fromconsole');
      expect(back.stdout.toString()).toBe('hello');
    } finally {
      await g3.startSshd();
    }
  });

  it('answers over the control socket and through `fleet emulator console`', async () => {
    const reply = await controlRequest(join(F().state, 'emulator.sock'), { op: 'console', guest: '127.96.0.1', command: 'hostname' });
    expect(Buffer.from((reply.console as { stdout: string }).stdout, 'base64').toString()).toBe('guest001\n');

    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
    let code: number;
    try {
      code = await main(['emulator', 'console', '--state', F().state, 'guest001', '--', 'echo', 'via', 'cli;', 'exit', '3']);
    } finally {
      spy.mockRestore();
    }
    expect(out).toBe('via cli\n');
    expect(code).toBe(3);
  });
});
