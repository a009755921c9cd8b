// The running emulator's control socket (STATE/emulator.sock): one JSON request, one JSON answer.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { controlRequest, type EmulatorStatus } from '../../src/emulator/index.js';
import { connectGuest, useFleet } from '../helpers/emulator.js';
import type { SshClientError } from '../helpers/ssh-client.js';

const F = useFleet({ guests: 3, subnet: '127.92.0.0/16', hostCapacity: 5 });
const sock = () => join(F().state, 'emulator.sock');

async function refusedCode(i: number): Promise<string | undefined> {
  try {
    (await connectGuest(F(), i, { readyTimeout: 3000 })).close();
    return undefined;
  } catch (err) {
    return (err as SshClientError).code;
  }
}

describe('control socket', () => {
  it('answers status with the emulator\'s status', async () => {
    const reply = await controlRequest(sock(), { op: 'status' });
    expect(reply.ok).toBe(true);
    const status = reply.status as EmulatorStatus;
    expect(status).toMatchObject({ pid: process.pid, state: F().state, subnet: '127.92.0.0/16', port: 2222, guests: 3, sshdRunning: 3 });
    expect(status.hostModel.capacity).toBe(5);
    expect(JSON.parse(JSON.stringify(F().emu.status()))).toMatchObject({ ...status, hostModel: expect.anything() as unknown });
  });

  it('sets and clears faults', async () => {
    const set = await controlRequest(sock(), { op: 'fault-set', spec: 'refuse@2' });
    expect(set).toMatchObject({ ok: true, guests: ['guest002'] });
    expect(await refusedCode(2)).toBe('ECONNREFUSED');
    const st = (await controlRequest(sock(), { op: 'status' })).status as EmulatorStatus;
    expect(st.faults).toEqual([{ guest: 'guest002', kind: 'refuse', ms: 0 }]);
    await controlRequest(sock(), { op: 'fault-clear', kind: 'refuse', who: 'guest002' });
    expect(await refusedCode(2)).toBeUndefined();
    expect(F().emu.status().faults).toEqual([]);
  });

  it('stops and starts one guest\'s sshd', async () => {
    expect(await controlRequest(sock(), { op: 'sshd', guest: 'guest003', action: 'stop' })).toMatchObject({ ok: true });
    expect(await refusedCode(3)).toBe('ECONNREFUSED');
    expect(F().emu.status().sshdRunning).toBe(2);
    expect(await controlRequest(sock(), { op: 'sshd', guest: '127.92.0.3', action: 'start' })).toMatchObject({ ok: true });
    expect(await refusedCode(3)).toBeUndefined();
  });

  it('answers errors as errors', async () => {
    await expect(controlRequest(sock(), { op: 'fault-set', spec: 'melt@all' })).rejects.toThrow(/bad fault/);
    await expect(controlRequest(sock(), { op: 'sshd', guest: 'guest999', action: 'stop' })).rejects.toThrow(/no emulated guest 'guest999'/);
    await expect(controlRequest(sock(), { op: 'nonsense' } as never)).rejects.toThrow(/unknown control request/);
  });

  it('fails fast when nobody listens', async () => {
    await expect(controlRequest(join(F().state, 'no-such.sock'), { op: 'status' }, 2000)).rejects.toThrow(/ENOENT/);
  });
});
