// Host model: calibration against the field figures, and the staggered plan's effect.
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST_MODEL, simulateHost } from '../../src/schedule/index.js';

const within = (actual: number, target: number, tolerance = 0.15) => {
  expect(actual).toBeGreaterThanOrEqual(target * (1 - tolerance));
  expect(actual).toBeLessThanOrEqual(target * (1 + tolerance));
};

describe('simulateHost calibration (the field figures of the cron storm)', () => {
  it('runs a lone daily job in about 3 minutes', () => {
    const r = simulateHost([1]);
    within(r.lastEnd, 3);
    expect(r.peakQueue).toBe(0);
  });

  it('runs 35 at once with no queue, done in about 3 minutes', () => {
    const r = simulateHost([35]);
    expect(r.peakQueue).toBe(0);
    expect(r.unresponsiveMinutes).toBe(0);
    within(r.lastEnd, 3);
  });

  it('starts queueing at 42 guests, not before', () => {
    expect(simulateHost([41]).peakQueue).toBe(0);
    expect(simulateHost([42]).peakQueue).toBe(1);
  });

  it('leaves the host unresponsive ~1 h 37 min with 110 at once, last guest done ~105 min', () => {
    const r = simulateHost([110]);
    within(r.unresponsiveMinutes, 97);
    within(r.lastEnd, 105);
    expect(r.peakQueue).toBe(69);
    console.log(`110 at once: unresponsive ${r.unresponsiveMinutes.toFixed(1)} min (field 97), last done ${r.lastEnd.toFixed(1)} min (field 105)`);
  });
});

describe('simulateHost', () => {
  it('keeps 500 guests in blocks of 15, 12 minutes apart, queue-free within about 7 hours', () => {
    const starts: number[] = new Array(420).fill(0);
    for (let b = 0; b * 15 < 500; b++) starts[b * 12] = Math.min(15, 500 - b * 15);
    const r = simulateHost(starts);
    expect(r.peakQueue).toBe(0);
    expect(r.lastEnd).toBeLessThanOrEqual(7 * 60);
  });

  it('melts down when the same 500 start together, with the queue visible per minute', () => {
    const r = simulateHost([500]);
    expect(r.peakQueue).toBe(459);
    expect(r.queueSeries[0]).toBe(459);
    expect(r.unresponsiveMinutes).toBeGreaterThan(6 * 60);
    expect(r.queueSeries.length).toBeGreaterThanOrEqual(Math.floor(r.lastEnd));
    // The series only ever shrinks once nobody new arrives.
    for (let m = 1; m < r.queueSeries.length; m++) expect(r.queueSeries[m]!).toBeLessThanOrEqual(r.queueSeries[m - 1]!);
  });

  it('reproduces the every-15-minutes run-crons storm: short jobs, short but total outages', () => {
    // run-crons with nothing due takes 0.1-2 s per guest; at 0.1 s the host is gone ~1.5 min.
    const storm = Array.from({ length: 500 }, () => ({ time: 0, durationMin: 0.1 / 60 }));
    const r = simulateHost(storm);
    within(r.unresponsiveMinutes, 1.5, 0.25);
  });

  it('takes jobs with their own durations and start times, and counts per minute alike', () => {
    const asCounts = simulateHost([2, 0, 3]);
    const asJobs = simulateHost([{ time: 0 }, { time: 0 }, { time: 2 }, { time: 2 }, { time: 2 }]);
    expect(asJobs).toEqual({ ...asCounts, queueSeries: asJobs.queueSeries });
    const custom = simulateHost([{ time: 10, durationMin: 5 }], { capacity: 1 });
    expect(custom.lastEnd).toBe(15);
    expect(custom.longestJob).toBe(5);
  });

  it('honours a queue threshold for "unresponsive"', () => {
    const r = simulateHost([50], { unresponsiveQueue: 10 });
    expect(r.queueMinutes).toBeGreaterThan(0);
    expect(r.unresponsiveMinutes).toBe(0);
    expect(DEFAULT_HOST_MODEL.unresponsiveQueue).toBe(0);
  });

  it('rejects nonsense', () => {
    expect(() => simulateHost([1], { capacity: 0 })).toThrow(/invalid host model/);
    expect(() => simulateHost([{ time: -1 }])).toThrow(/finite, >= 0/);
  });
});
