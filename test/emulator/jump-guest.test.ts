// Emulated guests as jump hosts: `fleet run --jump` through one guest and through a chain of two, and
// OpenSSH's `ssh -J`, every hop pinned by the emulator's known_hosts; a forward reaches only another guest's SSH port (anything
// else, the host's own listeners included, is refused as administratively prohibited and never sees a
// connection); a guest whose sshd is stopped or refusing is unreachable from the jump host, a hanging
// one accepted and never answered; `AllowTcpForwarding no` on the jump host refuses every forward.
import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadKnownHosts, SshConnection, type ConnectOptions, type JumpHop, type KnownHosts,
} from '../../src/ssh/index.js';
import { runOn, useFleet } from '../helpers/emulator.js';
import { fleet, jsonLines } from '../cli/cli-harness.js';
import { failure, jumpsClosed } from '../helpers/jump.js';

const PORT = 2222;
const GUESTS = 6;
const F = useFleet({ guests: GUESTS, subnet: '127.223.0.0/16', port: PORT });
const addr = (i: number) => `127.223.0.${i}`;
const name = (i: number) => `guest${String(i).padStart(3, '0')}`;
/** A service of the machine the emulator runs on, on the fleet's subnet and SSH port but no guest. */
const HOST_SERVICE = '127.223.1.1';

let pinned: KnownHosts;
let dir: string;
beforeAll(async () => {
  pinned = await loadKnownHosts(F().emu.knownHostsPath);
  dir = mkdtempSync(join(tmpdir(), 'fleet-jump-guest-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hop = (i: number): JumpHop => ({ host: name(i), address: addr(i), port: PORT, user: F().emu.user });

function target(i: number, extra: Partial<ConnectOptions> = {}): ConnectOptions {
  return {
    name: name(i), address: addr(i), port: PORT, knownHosts: pinned,
    credentials: { username: F().emu.user, privateKey: F().clientKey }, connectTimeoutMs: 15_000, ...extra,
  };
}

/** Open connections to each guest's sshd, as `fleet emulator status --json` counts them, once settled. */
async function connections(expected: number[]): Promise<number[]> {
  let now: number[] = [];
  for (let i = 0; i < 200; i++) {
    now = F().emu.guests.map((g) => g.status().connections);
    if (now.join() === expected.join()) break;
    await delay(25);
  }
  return now;
}

const idle = () => Array<number>(GUESTS).fill(0);

describe('fleet run --jump through emulated guests', () => {
  const sel = (knownHosts = F().emu.knownHostsPath) =>
    ['-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath, '--known-hosts', knownHosts, '--ssh-config', 'none', '--json'];
  const jumpSpec = (...hops: number[]) => hops.map((i) => `${F().emu.user}@${addr(i)}:${PORT}`).join(',');

  it('reaches each guest behind one emulated jump host, which answers with its own name', async () => {
    const r = await fleet('run', 'guest002,guest003,guest004,guest005', ...sel(), '--jump', jumpSpec(1), '--', 'hostname');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const rows = jsonLines(r.out).filter((x) => x.host);
    expect(rows.map((x) => [x.host, x.status, x.stdout])).toEqual([2, 3, 4, 5].map((i) => [name(i), 'ok', `${name(i)}\n`]));
    await jumpsClosed();
    expect(await connections(idle())).toEqual(idle());
  });

  it('checks the emulated jump host\'s key: unpinned, every guest behind it is refused naming it', async () => {
    const bare = join(dir, 'known_hosts_without_guest001');
    const lines = readFileSync(F().emu.knownHostsPath, 'utf8').split('\n');
    writeFileSync(bare, lines.filter((l) => !l.startsWith(`[${addr(1)}]:${PORT} `)).join('\n'));
    const r = await fleet('run', 'guest002,guest003', ...sel(bare), '--jump', jumpSpec(1), '--', 'hostname');
    expect(r.code).toBe(3);
    const rows = jsonLines(r.out).filter((x) => x.host);
    expect(rows.map((x) => x.status)).toEqual(['hostkey-refused', 'hostkey-refused']);
    expect(rows[0]!.error).toMatch(/host key of jump host 127\.223\.0\.1 \(127\.223\.0\.1:2222\) is not pinned/);
    await jumpsClosed();
  });

  it('reaches guests through a chain of two emulated jump hosts', async () => {
    const r = await fleet('run', 'guest003,guest004,guest005', ...sel(), '--jump', jumpSpec(1, 2), '--', 'hostname');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const rows = jsonLines(r.out).filter((x) => x.host);
    expect(rows.map((x) => [x.host, x.status, x.stdout])).toEqual([3, 4, 5].map((i) => [name(i), 'ok', `${name(i)}\n`]));
    await jumpsClosed();
  });
});

describe('OpenSSH\'s client through an emulated jump host', () => {
  it('ssh -J reaches a guest (ProxyJump: ssh -W through the jump host), every hop pinned', async () => {
    const config = join(dir, 'ssh_config');
    writeFileSync(config, [
      'Host *', `  User ${F().emu.user}`, `  Port ${PORT}`, `  IdentityFile ${F().emu.clientKeyPath}`, '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${F().emu.knownHostsPath}`, '  GlobalKnownHostsFile /dev/null', '  StrictHostKeyChecking yes', '  BatchMode yes', '',
    ].join('\n'));
    const r = await execa('ssh', ['-F', config, '-J', addr(1), addr(6), 'hostname'], { reject: false, timeout: 20_000, stdin: 'ignore' });
    expect(r.stderr).toBe('');
    expect([r.exitCode, r.stdout]).toEqual([0, name(6)]);
    const refused = await execa('ssh', ['-F', config, '-J', addr(1), '-p', '22', addr(6), 'hostname'], { reject: false, timeout: 20_000, stdin: 'ignore' });
    expect(refused.exitCode).toBe(255);
    expect(refused.stderr).toMatch(/administratively prohibited: open failed/);
  });
});

describe('what a forward reaches', () => {
  it('counts a forwarded connection as a connection of the guest it reaches', async () => {
    expect(await connections(idle())).toEqual(idle());
    const c = await SshConnection.connect(target(6, { jump: [hop(1)] }));
    try {
      expect((await c.exec('hostname', { timeoutMs: 15_000 })).stdout.toString()).toBe(`${name(6)}\n`);
      // The jump host's one TCP connection, and the forwarded one on guest006.
      expect(await connections([1, 0, 0, 0, 0, 1])).toEqual([1, 0, 0, 0, 0, 1]);
    } finally {
      c.close();
    }
    await jumpsClosed();
    expect(await connections(idle())).toEqual(idle());
  });

  it('refuses anything but another guest\'s SSH port, and the host\'s listeners never see a connection', async () => {
    const seen: string[] = [];
    const listeners = await Promise.all([[HOST_SERVICE, PORT], [HOST_SERVICE, 22], [addr(3), 22]].map(([host, port]) => new Promise<net.Server>((resolve, reject) => {
      const srv = net.createServer((sock) => (seen.push(`${host}:${port}`), sock.destroy()));
      srv.once('error', reject).listen(port as number, host as string, () => resolve(srv));
    }).catch(() => undefined))); // port 22 may be taken or privileged: the refusal below holds either way
    try {
      const refusedTo = [
        [HOST_SERVICE, PORT], // the fleet's SSH port, but no guest there: a host listener
        [HOST_SERVICE, 22],
        [addr(3), 22], // a guest's address, another port
        ['127.0.0.1', PORT], // the host's (and no guest's) loopback
        ['localhost', PORT],
        [addr(1), PORT], // the jump host itself
        [addr(GUESTS + 1), PORT], // the subnet, but past the fleet
      ] as const;
      for (const [address, port] of refusedTo) {
        const err = await failure({ ...target(2, { jump: [hop(1)] }), name: 'probe', address, port });
        expect(err.reason).toBe('unreachable');
        expect(err.message).toBe(`probe (${address}:${port}): jump host ${name(1)} refused to forward to ${address}:${port} (administratively prohibited: open failed)`);
      }
      await jumpsClosed();
      expect(seen).toEqual([]);
      expect(listeners[0], `a listener on ${HOST_SERVICE}:${PORT}`).toBeDefined();
    } finally {
      await Promise.all(listeners.map((s) => s && new Promise((r) => s.close(r))));
    }
  });

  it('a guest whose sshd is stopped or refusing is unreachable from the jump host', async () => {
    const g = F().emu.guests[3]!;
    await g.stopSshd();
    try {
      const err = await failure(target(4, { jump: [hop(1)] }));
      expect(err.reason).toBe('unreachable');
      expect(err.message).toBe(`${name(4)} (${addr(4)}:${PORT}): unreachable from jump host ${name(1)}: Connection refused`);
    } finally {
      expect((await g.startSshd()).ok).toBe(true);
    }
    await F().emu.setFault(`refuse@${name(4)}`);
    try {
      const err = await failure(target(4, { jump: [hop(1)] }));
      expect(err.message).toBe(`${name(4)} (${addr(4)}:${PORT}): unreachable from jump host ${name(1)}: Connection refused`);
    } finally {
      await F().emu.clearFaults('refuse', name(4));
    }
    await jumpsClosed();
    // Back up: reached again through the same jump host.
    const c = await SshConnection.connect(target(4, { jump: [hop(1)] }));
    c.close();
    await jumpsClosed();
  });

  it('a hanging guest takes the forwarded connection and never answers, as it does a TCP one', async () => {
    await F().emu.setFault(`hang@${name(5)}`);
    try {
      const err = await failure(target(5, { jump: [hop(1)], connectTimeoutMs: 1_000 }));
      expect(err.reason).toBe('timeout');
      expect(err.message).toBe(`${name(5)} (${addr(5)}:${PORT}): no SSH session within 1000 ms`);
      await jumpsClosed();
      // The jump host's connection is gone; the hung sshd still holds what it accepted, and holds a
      // direct TCP connection the same way.
      expect(await connections([0, 0, 0, 0, 1, 0])).toEqual([0, 0, 0, 0, 1, 0]);
      const direct = await failure(target(5, { connectTimeoutMs: 1_000 }));
      expect(direct.message).toBe(err.message);
      expect(await connections([0, 0, 0, 0, 2, 0])).toEqual([0, 0, 0, 0, 2, 0]);
    } finally {
      await F().emu.clearFaults('hang', name(5));
    }
  });

  it('AllowTcpForwarding no in the jump host\'s sshd_config refuses every forward', async () => {
    const conf = '/etc/ssh/sshd_config';
    expect((await runOn(F(), 1, `sudo -n sh -c 'printf "AllowTcpForwarding no\\n" | cat - ${conf} > /tmp/c && cat /tmp/c > ${conf}'`)).code).toBe(0);
    try {
      const err = await failure(target(2, { jump: [hop(1)] }));
      expect(err.message).toBe(`${name(2)} (${addr(2)}:${PORT}): jump host ${name(1)} refused to forward to ${addr(2)}:${PORT} (administratively prohibited: open failed)`);
    } finally {
      expect((await runOn(F(), 1, `sudo -n sed -i '1d' ${conf}`)).code).toBe(0);
    }
    await jumpsClosed();
    const c = await SshConnection.connect(target(2, { jump: [hop(1)] }));
    c.close();
    await jumpsClosed();
  });
});
