// HostModel on its own (queueing, release, capacity changes, per-minute record), then on a running
// fleet: with a host capacity, commands beyond it wait; without one, nothing queues.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { HostModel } from '../../src/emulator/host-model.js';
import { connectGuest, startFleet, type TestFleet } from '../helpers/emulator.js';
import type { SshSession } from '../helpers/ssh-client.js';

/** Lets pending promise callbacks run. */
const flush = () => new Promise<void>((r) => setImmediate(r));

function track(p: Promise<() => void>) {
  const t = { release: undefined as (() => void) | undefined };
  void p.then((r) => (t.release = r));
  return t;
}

describe('HostModel', () => {
  afterEach(() => vi.useRealTimers());

  it('never queues without a capacity', async () => {
    const m = new HostModel(null);
    const releases = await Promise.all(Array.from({ length: 50 }, () => m.acquire()));
    expect(m.status()).toMatchObject({ capacity: null, running: 50, queueNow: 0, queuePeak: 0, minutesWithQueue: 0 });
    for (const r of releases) r();
    expect(m.status().running).toBe(0);
  });

  it('runs at most C at once and lets the rest wait in order', async () => {
    const m = new HostModel(2);
    const a = track(m.acquire());
    const b = track(m.acquire());
    const c = track(m.acquire());
    const d = track(m.acquire());
    await flush();
    expect([!!a.release, !!b.release, !!c.release, !!d.release]).toEqual([true, true, false, false]);
    expect(m.status()).toMatchObject({ capacity: 2, running: 2, queueNow: 2, queuePeak: 2 });
    a.release!();
    await flush();
    expect([!!c.release, !!d.release]).toEqual([true, false]); // first come, first served
    expect(m.status()).toMatchObject({ running: 2, queueNow: 1, queuePeak: 2 });
    b.release!();
    c.release!();
    await flush();
    d.release!();
    expect(m.status()).toMatchObject({ running: 0, queueNow: 0, queuePeak: 2 });
  });

  it('gives a slot back only once, however often release is called', async () => {
    const m = new HostModel(1);
    const first = await m.acquire();
    const waiter = track(m.acquire());
    first();
    first();
    first();
    await flush();
    expect(waiter.release).toBeDefined();
    expect(m.status().running).toBe(1);
    const third = track(m.acquire());
    await flush();
    expect(third.release).toBeUndefined();
    expect(m.status()).toMatchObject({ running: 1, queueNow: 1 });
    waiter.release!();
    await flush();
    third.release!();
    expect(m.status().running).toBe(0);
  });

  it('admits waiters when the capacity grows or is lifted', async () => {
    const m = new HostModel(1);
    await m.acquire();
    const waiters = [track(m.acquire()), track(m.acquire()), track(m.acquire())];
    await flush();
    m.setCapacity(2);
    await flush();
    expect(waiters.map((w) => !!w.release)).toEqual([true, false, false]);
    m.setCapacity(null);
    await flush();
    expect(waiters.map((w) => !!w.release)).toEqual([true, true, true]);
    expect(m.status()).toMatchObject({ capacity: null, running: 4, queueNow: 0, queuePeak: 3 });
  });

  it('records the longest queue per wall-clock minute', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
    const m = new HostModel(1);
    const r0 = await m.acquire(); // minute 0: a slot, no queue
    vi.setSystemTime(new Date('2026-01-01T00:02:10Z'));
    const w1 = track(m.acquire());
    const w2 = track(m.acquire()); // minute 2: queue of 2
    await flush();
    vi.setSystemTime(new Date('2026-01-01T00:05:00Z'));
    r0(); // minute 5: queue drops to 1
    await flush();
    w1.release!();
    await flush();
    w2.release!();
    const s = m.status();
    expect(s.queueByMinute).toEqual([
      { minute: 0, peak: 0 },
      { minute: 2, peak: 2 },
      { minute: 5, peak: 1 },
    ]);
    expect(s.minutesWithQueue).toBe(2);
    expect(s.queuePeak).toBe(2);
  });
});

/** Starts `sleep 1` on every session at once; returns each command's start/end (ms) and the run's span. */
async function sleepStorm(fleet: TestFleet, sessions: SshSession[]) {
  let maxRunning = 0;
  const poll = setInterval(() => (maxRunning = Math.max(maxRunning, fleet.emu.status().hostModel.running)), 10);
  const t0 = performance.now();
  try {
    const results = await Promise.all(sessions.map((s) => s.exec('date +%s%N; sleep 1; date +%s%N', { timeoutMs: 15_000 })));
    const spans = results.map((r) => {
      expect(r.code).toBe(0);
      const [start, end] = r.stdout.trim().split('\n').map((n) => Number(BigInt(n) / 1_000_000n));
      return { start: start!, end: end! };
    });
    return { spans, totalMs: performance.now() - t0, maxRunning };
  } finally {
    clearInterval(poll);
  }
}

/** Most commands running at one moment, from their own start/end stamps. */
function maxOverlap(spans: { start: number; end: number }[]): number {
  return Math.max(...spans.map((s) => spans.filter((o) => o.start <= s.start && s.start < o.end).length));
}

describe('host capacity on a running fleet', () => {
  let capped: TestFleet | undefined;
  let free: TestFleet | undefined;
  const sessions: SshSession[] = [];

  beforeAll(async () => {
    [capped, free] = await Promise.all([
      startFleet({ guests: 6, subnet: '127.87.0.0/16', hostCapacity: 2 }),
      startFleet({ guests: 6, subnet: '127.88.0.0/16' }),
    ]);
  });
  afterAll(async () => {
    for (const s of sessions) s.close();
    await Promise.all([capped?.stop(), free?.stop()]);
  });

  it('with hostCapacity 2, six `sleep 1` run two at a time and four wait', async () => {
    const fleet = capped!;
    for (let i = 1; i <= 6; i++) sessions.push(await connectGuest(fleet, i));
    const { spans, totalMs, maxRunning } = await sleepStorm(fleet, sessions.slice(0, 6));
    const hm = fleet.emu.status().hostModel;
    expect(hm.capacity).toBe(2);
    expect(hm.queuePeak).toBeGreaterThanOrEqual(3);
    expect(hm.queuePeak).toBeLessThanOrEqual(4);
    expect(maxRunning).toBeLessThanOrEqual(2);
    expect(maxRunning).toBe(2);
    expect(maxOverlap(spans)).toBeLessThanOrEqual(2);
    expect(totalMs).toBeGreaterThanOrEqual(2900);
    expect(hm).toMatchObject({ running: 0, queueNow: 0 });
    expect(hm.minutesWithQueue).toBeGreaterThanOrEqual(1);
  });

  it('without a capacity, the same six run together and nothing queues', async () => {
    const fleet = free!;
    const mine: SshSession[] = [];
    for (let i = 1; i <= 6; i++) mine.push(await connectGuest(fleet, i));
    sessions.push(...mine);
    const { spans, totalMs } = await sleepStorm(fleet, mine);
    const hm = fleet.emu.status().hostModel;
    expect(hm).toMatchObject({ capacity: null, queuePeak: 0, queueNow: 0, minutesWithQueue: 0 });
    expect(maxOverlap(spans)).toBeGreaterThanOrEqual(5);
    expect(totalMs).toBeLessThan(2500);
  });
});
