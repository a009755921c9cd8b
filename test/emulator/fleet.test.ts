// The fleet as a whole: guest addresses from a subnet (pure), then start/stop through the library
// API: the files it writes (inventory, hosts, known_hosts), status(), a second fleet on the same
// addresses, nothing left listening after stop, and a restart that keeps the guests' state.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FleetError, UsageError } from '../../src/core/errors.js';
import { DEFAULT_PORT, DEFAULT_SUBNET, Emulator, guestAddresses } from '../../src/emulator/index.js';
import { accessTo, runOn, startFleet, type TestFleet } from '../helpers/emulator.js';
import { runOpenssh } from '../helpers/openssh.js';

describe('guestAddresses', () => {
  it('numbers guests from the first host address of the subnet', () => {
    expect(guestAddresses('127.80.0.0/16', 3)).toEqual(['127.80.0.1', '127.80.0.2', '127.80.0.3']);
    expect(guestAddresses('127.0.0.0/8', 2)).toEqual(['127.0.0.1', '127.0.0.2']);
    expect(guestAddresses('127.80.0.0/16', 0)).toEqual([]);
    expect(DEFAULT_SUBNET).toBe('127.77.0.0/16');
    expect(DEFAULT_PORT).toBe(2222);
  });

  it('starts from the network address even when given a host address', () => {
    expect(guestAddresses('127.80.9.77/16', 2)).toEqual(['127.80.0.1', '127.80.0.2']);
    expect(guestAddresses('127.80.9.77/24', 1)).toEqual(['127.80.9.1']);
    expect(guestAddresses('127.80.9.77/30', 2)).toEqual(['127.80.9.77', '127.80.9.78']);
  });

  it('carries across octets inside a large subnet', () => {
    const a = guestAddresses('127.80.0.0/16', 300);
    expect(a[253]).toBe('127.80.0.254');
    expect(a[254]).toBe('127.80.0.255');
    expect(a[255]).toBe('127.80.1.0');
    expect(a[299]).toBe('127.80.1.44');
    expect(new Set(a).size).toBe(300);
  });

  it('skips network and broadcast: a /24 holds 254 guests, a /30 two', () => {
    const a = guestAddresses('127.80.5.0/24', 254);
    expect(a.at(-1)).toBe('127.80.5.254');
    expect(() => guestAddresses('127.80.5.0/24', 255)).toThrow(/at most 254 guests, asked for 255/);
    expect(guestAddresses('127.80.5.0/30', 2)).toEqual(['127.80.5.1', '127.80.5.2']);
    expect(() => guestAddresses('127.80.5.0/30', 3)).toThrow(UsageError);
  });

  it('rejects malformed and non-loopback subnets', () => {
    for (const bad of ['127.80.0.0', '127.80.0/16', '127.300.0.0/16', '127.80.0.0/31', '127.80.0.0/32', '127.0.0.0/7', 'localhost/8', ' 127.80.0.0/16']) {
      expect(() => guestAddresses(bad, 1), bad).toThrow(UsageError);
    }
    expect(() => guestAddresses('10.0.0.0/8', 1)).toThrow(/not loopback/);
    expect(() => guestAddresses('192.168.1.0/24', 1)).toThrow(/not loopback/);
  });
});

function tcpRefused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    sock.setTimeout(2000, () => {
      sock.destroy();
      resolve(false);
    });
    sock.once('connect', () => {
      sock.destroy();
      resolve(false);
    });
    sock.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

describe('an emulated fleet through the library API', () => {
  const state = mkdtempSync(join(tmpdir(), 'clonefleet-emu-test-'));
  const subnet = '127.90.0.0/16';
  let emu: Emulator | undefined;
  let port22: TestFleet | undefined;

  afterAll(async () => {
    await emu?.stop();
    await port22?.stop();
    rmSync(state, { recursive: true, force: true });
  });

  it('starts N guests and writes inventory, hosts and known_hosts', async () => {
    emu = await Emulator.start({ guests: 3, state, subnet });
    expect(emu.guests.map((g) => `${g.cfg.name}@${g.cfg.address}:${g.cfg.port}`)).toEqual([
      'guest001@127.90.0.1:2222', 'guest002@127.90.0.2:2222', 'guest003@127.90.0.3:2222',
    ]);
    expect(readFileSync(join(state, 'inventory'), 'utf8')).toContain(
      '[emulator]\nguest001 ansible_host=127.90.0.1\nguest002 ansible_host=127.90.0.2\nguest003 ansible_host=127.90.0.3\n',
    );
    expect(readFileSync(join(state, 'inventory'), 'utf8')).toMatch(/ansible_port=2222\nansible_user=fleetadm\n/);
    expect(readFileSync(join(state, 'hosts'), 'utf8')).toBe('127.90.0.1\n127.90.0.2\n127.90.0.3\n');
    const known = readFileSync(emu.knownHostsPath, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(known).toHaveLength(9); // three key types per guest
    for (const line of known) expect(line).toMatch(/^\[127\.90\.0\.[1-3]\]:2222 (ssh-ed25519|ecdsa-sha2-nistp256|ssh-rsa) [A-Za-z0-9+/=]+$/);
    expect(readFileSync(join(state, 'emulator.pid'), 'utf8')).toBe(`${process.pid}\n`);
    expect(existsSync(join(state, 'emulator.sock'))).toBe(true);
  });

  it('reports its status', async () => {
    const st = emu!.status();
    expect(st).toMatchObject({
      pid: process.pid, state, subnet, port: 2222, guests: 3, sshdRunning: 3, connections: 0, commands: 0, faults: [],
      hostTools: { sudo: true, sftpServer: true },
    });
    expect(st.hostModel).toMatchObject({ capacity: null, running: 0, queuePeak: 0 });
    expect(st.startupMs).toBeGreaterThan(0);
    expect(Date.parse(st.startedAt)).not.toBeNaN();
  });

  it('refuses a second fleet on the same addresses, and the first keeps running', async () => {
    const other = mkdtempSync(join(tmpdir(), 'clonefleet-emu-test-'));
    try {
      const err = await Emulator.start({ guests: 2, state: other, subnet }).then(
        async (e) => {
          await e.stop();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(FleetError);
      expect((err as Error).message).toMatch(/address in use/);
      expect(existsSync(join(other, 'emulator.sock'))).toBe(false);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
    const fleet = accessTo(emu!);
    for (const i of [1, 2, 3]) expect((await runOn(fleet, i, 'hostname')).stdout).toBe(`guest00${i}\n`);
  });

  it('refuses a second emulator on the same state directory, and the first keeps running', async () => {
    const err = await Emulator.start({ guests: 2, state, subnet: '127.90.9.0/24' }).then(
      async (e) => {
        await e.stop();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FleetError);
    expect((err as Error).message).toMatch(/another emulator already uses the state directory .*held by pid \d+/);
    expect(await tcpRefused('127.90.9.1', 2222)).toBe(true);
    const fleet = accessTo(emu!);
    expect((await runOn(fleet, 1, 'hostname')).stdout).toBe('guest001\n');
  });

  it('rejects a bad guest count before touching anything', async () => {
    const other = join(tmpdir(), `clonefleet-never-created-${process.pid}`);
    await expect(Emulator.start({ guests: 0, state: other, subnet: '127.90.0.0/16' })).rejects.toThrow(UsageError);
    await expect(Emulator.start({ guests: 2.5, state: other, subnet: '127.90.0.0/16' })).rejects.toThrow(UsageError);
    await expect(Emulator.start({ guests: 2, state: other, subnet: '10.0.0.0/8' })).rejects.toThrow(/not loopback/);
    expect(existsSync(other)).toBe(false);
  });

  it('leaves nothing listening after stop, and a restart keeps each guest\'s changes', async () => {
    const fleet = accessTo(emu!);
    expect((await runOn(fleet, 2, 'echo kept | sudo -n tee /etc/kept >/dev/null')).code).toBe(0);
    const machineId = (await runOn(fleet, 2, 'cat /etc/machine-id')).stdout;
    await emu!.stop();
    const stopped = emu!;
    emu = undefined;
    for (const g of stopped.guests) expect(await tcpRefused(g.cfg.address, stopped.port), g.cfg.name).toBe(true);
    expect(existsSync(join(state, 'emulator.sock'))).toBe(false);
    expect(existsSync(join(state, 'emulator.pid'))).toBe(false);

    emu = await Emulator.start({ guests: 4, state, subnet });
    const again = accessTo(emu);
    expect((await runOn(again, 2, 'cat /etc/kept /etc/machine-id')).stdout).toBe(`kept\n${machineId}`);
    expect((await runOn(again, 4, 'hostname; cat /etc/machine-id')).stdout).toBe(`guest004\n${machineId}`);
    expect(readFileSync(join(state, 'hosts'), 'utf8').trim().split('\n')).toHaveLength(4);
  });

  it('on port 22, pins bare addresses in known_hosts and the real ssh client uses them', async () => {
    port22 = await startFleet({ guests: 2, subnet: '127.91.0.0/16', port: 22 });
    const known = readFileSync(port22.emu.knownHostsPath, 'utf8');
    expect(known).toMatch(/^127\.91\.0\.1 ssh-ed25519 /m);
    expect(known).not.toMatch(/\[127\.91/);
    const r = await runOpenssh({ state: port22.state, address: '127.91.0.2', port: 22, user: 'fleetadm' }, 'hostname');
    expect(r).toMatchObject({ exitCode: 0, stdout: 'guest002' });
  });
});
