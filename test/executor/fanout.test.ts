// The fan-out on its own: concurrency cap, rolling batches, failure budget, interruption. Pure.
import { describe, expect, it } from 'vitest';
import { fanout, parseAmount, summarize, type FleetEvent, type HostResult } from '../../src/executor/index.js';

const targets = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `h${i + 1}`, address: `10.0.0.${i + 1}` }));
const result = (t: { name: string; address: string }, ok = true): HostResult => ({
  host: t.name, address: t.address, status: ok ? 'ok' : 'failed', exitCode: ok ? 0 : 1, stdout: '', stderr: '', changed: true, durationMs: 1,
});
const tick = () => new Promise((r) => setTimeout(r, 1));

describe('fanout', () => {
  it('never runs more guests at once than the fanout, and runs every guest once', async () => {
    let running = 0;
    let peak = 0;
    const seen: string[] = [];
    const results = await fanout(targets(50), async (t) => {
      running++;
      peak = Math.max(peak, running);
      seen.push(t.name);
      await tick();
      running--;
      return result(t);
    }, { fanout: 7 });
    expect(peak).toBe(7);
    expect(results).toHaveLength(50);
    expect(new Set(seen).size).toBe(50);
  });

  it('rolls out batches in order, each finished before the next starts', async () => {
    const events: FleetEvent[] = [];
    const order: string[] = [];
    await fanout(targets(10), async (t) => {
      order.push(`start ${t.name}`);
      await tick();
      order.push(`end ${t.name}`);
      return result(t);
    }, { fanout: 64, batch: '40%', onEvent: (e) => events.push(e) });
    expect(events.filter((e) => e.type === 'batch')).toEqual([
      { type: 'batch', index: 1, of: 3, size: 4 }, { type: 'batch', index: 2, of: 3, size: 4 }, { type: 'batch', index: 3, of: 3, size: 2 },
    ]);
    expect(order.indexOf('start h5')).toBeGreaterThan(order.indexOf('end h4'));
    expect(order.indexOf('start h9')).toBeGreaterThan(order.indexOf('end h8'));
  });

  it('stops before the next batch once more guests failed than the budget allows', async () => {
    const results = await fanout(targets(10), async (t) => result(t, !['h1', 'h3', 'h4'].includes(t.name)), {
      fanout: 64, batch: '2', maxFail: '1',
    });
    expect(results.map((r) => r.host)).toEqual(['h1', 'h2', 'h3', 'h4']);
    expect(summarize(results, 10, 5)).toMatchObject({ ok: 1, failed: 3, notRun: 6, total: 10 });
  });

  it('starts no new guest once aborted, but lets running ones finish', async () => {
    const ctl = new AbortController();
    const finished: string[] = [];
    const results = await fanout(targets(20), async (t) => {
      await tick();
      if (t.name === 'h1') ctl.abort(); // h1..h3 are running by now
      await tick();
      finished.push(t.name);
      return result(t);
    }, { fanout: 3, signal: ctl.signal });
    expect(finished.sort()).toEqual(['h1', 'h2', 'h3']);
    expect(results).toHaveLength(3);
  });
});

describe('parseAmount', () => {
  it('reads counts and percentages of the selection', () => {
    expect(parseAmount('10', 500, '--batch')).toBe(10);
    expect(parseAmount('10%', 500, '--batch')).toBe(50);
    expect(parseAmount(' 3% ', 20, '--max-fail')).toBe(0);
    expect(() => parseAmount('ten', 500, '--batch')).toThrow(/--batch must be a number or a percentage/);
  });
});
