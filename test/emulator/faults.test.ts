// Fault specs (parseFault: kinds, default delays, selections, the seeded N% pick), then every fault
// on a running fleet, set at start and at run time, and cleared again.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULT_KINDS, parseFault } from '../../src/emulator/index.js';
import type { GuestRef } from '../../src/emulator/faults.js';
import { UsageError } from '../../src/core/errors.js';
import { connectGuest, pinsFromKnownHosts, startFleet, type TestFleet } from '../helpers/emulator.js';
import { presentedHostKey, type SshClientError } from '../helpers/ssh-client.js';

function refs(n: number): GuestRef[] {
  return Array.from({ length: n }, (_, i) => ({ index: i + 1, name: `guest${String(i + 1).padStart(3, '0')}`, address: `127.86.0.${i + 1}` }));
}
const picked = (spec: string, n: number, seed?: string) => parseFault(spec, refs(n), seed).guests.map((g) => g.index);

describe('parseFault', () => {
  it('knows every kind and their default delays', () => {
    expect(FAULT_KINDS).toEqual(['refuse', 'hang', 'slow', 'drop', 'auth-reject', 'hostkey', 'mitm']);
    expect(parseFault('refuse', refs(3)).fault).toEqual({ kind: 'refuse', ms: 0 });
    expect(parseFault('slow', refs(3)).fault).toEqual({ kind: 'slow', ms: 2000 });
    expect(parseFault('drop', refs(3)).fault).toEqual({ kind: 'drop', ms: 200 });
    expect(parseFault('slow:1500@2', refs(3)).fault).toEqual({ kind: 'slow', ms: 1500 });
    expect(parseFault(' auth-reject@1 ', refs(3)).fault.kind).toBe('auth-reject');
  });

  it('selects all, numbers and ranges, names and addresses', () => {
    expect(picked('hang', 4)).toEqual([1, 2, 3, 4]);
    expect(picked('hang@all', 4)).toEqual([1, 2, 3, 4]);
    expect(picked('hang@*', 4)).toEqual([1, 2, 3, 4]);
    expect(picked('hang@3,5-7', 10)).toEqual([3, 5, 6, 7]);
    expect(picked('hang@2,1-2', 4)).toEqual([2, 1]);
    expect(picked('hostkey@guest004', 5)).toEqual([4]);
    expect(picked('drop:200@127.86.0.9', 10)).toEqual([9]);
    expect(picked('drop@guest001,127.86.0.3', 5)).toEqual([1, 3]);
  });

  it('picks round(N% of the fleet), the same guests for the same seed', () => {
    expect(picked('hang@10%', 20, 's1')).toHaveLength(2);
    expect(picked('hang@50%', 5, 's1')).toHaveLength(3); // 2.5 rounds up
    expect(picked('hang@0%', 20, 's1')).toEqual([]);
    expect(picked('hang@100%', 20, 's1').sort((a, b) => a - b)).toEqual(picked('hang@all', 20));
    expect(picked('hang@25%', 40, 'alpha')).toEqual(picked('slow@25%', 40, 'alpha'));
    expect(picked('hang@25%', 40, 'alpha')).toEqual(picked('hang@25%', 40, 'alpha'));
    const seeds = ['alpha', 'beta', 'gamma', 'delta'].map((s) => picked('hang@25%', 40, s).join(','));
    expect(new Set(seeds).size).toBeGreaterThan(1);
    // Growing the percentage only adds guests: the order is fixed by the seed.
    const ten = picked('hang@10%', 40, 'alpha');
    expect(picked('hang@20%', 40, 'alpha').slice(0, ten.length)).toEqual(ten);
  });

  it('rejects unknown kinds, bad delays and selections that match nothing', () => {
    for (const bad of ['melt@all', 'slow:fast@1', 'slow:-5@1', '', 'hang@', 'Hang@1']) {
      expect(() => parseFault(bad, refs(3)), bad).toThrow(UsageError);
    }
    expect(() => parseFault('hang@9', refs(3))).toThrow(/no guest matches '9'/);
    expect(() => parseFault('hang@guest999', refs(3))).toThrow(/no guest matches 'guest999'/);
  });
});

/** Outcome of a raw TCP connect: refused, or connected and silent for `ms`, or bytes received. */
function tcpProbe(host: string, port: number, ms: number): Promise<'refused' | 'silent' | 'spoke'> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve('silent');
    }, ms);
    sock.once('data', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve('spoke');
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      sock.destroy();
      if (err.code === 'ECONNREFUSED') resolve('refused');
      else reject(err);
    });
  });
}

async function connectError(fleet: TestFleet, index: number, readyTimeout = 5_000): Promise<SshClientError> {
  const t0 = performance.now();
  try {
    const s = await connectGuest(fleet, index, { readyTimeout });
    s.close();
  } catch (err) {
    return Object.assign(err as SshClientError, { elapsedMs: performance.now() - t0 });
  }
  throw new Error(`guest ${index} accepted the connection`);
}

async function connectsFine(fleet: TestFleet, index: number): Promise<boolean> {
  const s = await connectGuest(fleet, index, { readyTimeout: 5_000 });
  try {
    return (await s.exec('echo ok')).stdout === 'ok\n';
  } finally {
    s.close();
  }
}

describe('faults on a running fleet', () => {
  let fleet: TestFleet | undefined;
  const F = () => fleet!;
  const addr = (i: number) => F().emu.guests[i - 1]!.cfg.address;

  beforeAll(async () => {
    // Guest 7 stays healthy: the control for every fault.
    fleet = await startFleet({
      guests: 7,
      subnet: '127.86.0.0/16',
      seed: 'fault-seed',
      faults: ['refuse@1', 'hang@2', 'slow:1500@3', 'drop:300@4', 'auth-reject@5', 'hostkey@6'],
    });
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  it('reports the faults set at start', async () => {
    const faults = F().emu.status().faults;
    expect(faults).toEqual([
      { guest: 'guest001', kind: 'refuse', ms: 0 },
      { guest: 'guest002', kind: 'hang', ms: 0 },
      { guest: 'guest003', kind: 'slow', ms: 1500 },
      { guest: 'guest004', kind: 'drop', ms: 300 },
      { guest: 'guest005', kind: 'auth-reject', ms: 0 },
      { guest: 'guest006', kind: 'hostkey', ms: 0 },
    ]);
    expect(await connectsFine(F(), 7)).toBe(true);
  });

  it('refuse: TCP connections are refused', async () => {
    expect(await tcpProbe(addr(1), F().emu.port, 1000)).toBe('refused');
    expect((await connectError(F(), 1)).code).toBe('ECONNREFUSED');
    expect(await tcpProbe(addr(7), F().emu.port, 1000)).toBe('spoke');
  });

  it('hang: TCP connects but no SSH byte comes; the handshake times out', async () => {
    expect(await tcpProbe(addr(2), F().emu.port, 500)).toBe('silent');
    const err = (await connectError(F(), 2, 1000)) as SshClientError & { elapsedMs: number };
    expect(err.message).toMatch(/Timed out while waiting for handshake/);
    expect(err.elapsedMs).toBeGreaterThanOrEqual(950);
  });

  it('slow: each command starts MS late', async () => {
    const slow = await connectGuest(F(), 3);
    const fast = await connectGuest(F(), 7);
    try {
      const [s, f] = await Promise.all([slow.exec('echo hi'), fast.exec('echo hi')]);
      expect(s).toMatchObject({ code: 0, stdout: 'hi\n' });
      expect(s.durationMs).toBeGreaterThanOrEqual(1500);
      expect(f.durationMs).toBeLessThan(1000);
      expect(s.durationMs - f.durationMs).toBeGreaterThanOrEqual(1400);
    } finally {
      slow.close();
      fast.close();
    }
  });

  it('drop: the connection is cut MS after a command starts', async () => {
    const s = await connectGuest(F(), 4);
    try {
      const t0 = performance.now();
      await expect(s.exec('sleep 3; echo finished')).rejects.toThrow(/closed/);
      const elapsed = performance.now() - t0;
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(2500);
    } finally {
      s.close();
    }
  });

  it('auth-reject: every authentication is refused', async () => {
    const err = await connectError(F(), 5);
    expect(err.level).toBe('client-authentication');
  });

  it('hostkey: a different host key is presented and the pinned client refuses it', async () => {
    const pins = pinsFromKnownHosts(F().emu.knownHostsPath, F().emu.hostPattern(F().emu.guests[5]!));
    const presented = await presentedHostKey(addr(6), F().emu.port);
    expect(pins.length).toBeGreaterThan(0);
    expect(pins).not.toContain(presented);
    expect(pins).toContain(await presentedHostKey(addr(7), F().emu.port)); // clones: guest 7 shows the real one
    expect((await connectError(F(), 6)).message).toMatch(/Host denied/);
  });

  it('faults set and cleared at run time', async () => {
    const emu = F().emu;
    expect(await emu.setFault('refuse@7')).toEqual(['guest007']);
    expect(await tcpProbe(addr(7), emu.port, 1000)).toBe('refused');
    await emu.clearFaults('refuse', '7');
    expect(await connectsFine(F(), 7)).toBe(true);

    await emu.setFault('auth-reject@guest007');
    expect((await connectError(F(), 7)).level).toBe('client-authentication');
    await emu.setFault('hostkey@127.86.0.7');
    expect((await connectError(F(), 7)).message).toMatch(/Host denied/);
    await emu.clearFaults('hostkey', 'guest007');
    expect((await connectError(F(), 7)).level).toBe('client-authentication'); // auth-reject still on
    await emu.clearFaults(undefined, '7');
    expect(emu.status().faults.filter((f) => f.guest === 'guest007')).toEqual([]);

    await emu.setFault('hang@7');
    expect(await tcpProbe(addr(7), emu.port, 300)).toBe('silent');
    // A connection accepted while hung is answered once the fault is cleared (as by an sshd that wakes
    // up), not held for good.
    const held = net.connect({ host: addr(7), port: emu.port });
    const said: Buffer[] = [];
    held.on('data', (d: Buffer) => said.push(d));
    held.on('error', () => {});
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect(Buffer.concat(said).length).toBe(0);
      await emu.setFault('slow:700@7');
      await emu.clearFaults('hang', '7');
      for (let i = 0; i < 40 && !Buffer.concat(said).toString().startsWith('SSH-2.0-'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(Buffer.concat(said).toString()).toMatch(/^SSH-2\.0-/);
    } finally {
      held.destroy();
    }
    const s = await connectGuest(F(), 7);
    try {
      expect((await s.exec('true')).durationMs).toBeGreaterThanOrEqual(700);
      await emu.setFault('drop:200@7');
      await expect(s.exec('sleep 3')).rejects.toThrow(/closed/);
    } finally {
      s.close();
    }
    await emu.clearFaults();
    expect(emu.status().faults).toEqual([]);
    for (let i = 1; i <= 7; i++) expect(await connectsFine(F(), i), `guest ${i}`).toBe(true);
  });

  it('N% picks the seeded guests, the same ones each time', async () => {
    const emu = F().emu;
    const expected = parseFault('auth-reject@50%', emu.guestRefs(), 'fault-seed').guests.map((g) => g.name);
    expect(expected).toHaveLength(4);
    const first = await emu.setFault('auth-reject@50%');
    expect(first).toEqual(expected);
    await emu.clearFaults();
    expect(await emu.setFault('auth-reject@50%')).toEqual(first);
    for (const g of emu.guests) {
      if (first.includes(g.name)) expect((await connectError(F(), g.cfg.index)).level).toBe('client-authentication');
      else expect(await connectsFine(F(), g.cfg.index)).toBe(true);
    }
    await emu.clearFaults();
  });
});

describe('a seeded fraction set at start', () => {
  let fleet: TestFleet | undefined;
  afterAll(async () => {
    await fleet?.stop();
  });

  it('hits the guests parseFault picks for that seed', async () => {
    fleet = await startFleet({ guests: 5, subnet: '127.89.0.0/16', seed: 'other-seed', faults: ['refuse@40%'] });
    const expected = parseFault('refuse@40%', fleet.emu.guestRefs(), 'other-seed').guests.map((g) => g.name);
    expect(expected).toHaveLength(2);
    expect(fleet.emu.status().faults.map((f) => f.guest).sort()).toEqual([...expected].sort());
    for (const g of fleet.emu.guests) {
      const outcome = await tcpProbe(g.cfg.address, fleet.emu.port, 1000);
      expect(outcome, g.name).toBe(expected.includes(g.name) ? 'refused' : 'spoke');
    }
  });
});
