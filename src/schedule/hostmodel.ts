// Host model: how a burst of guest jobs queues and thrashes on one hypervisor, minute by minute.
//
// The model (an event-driven simulation, exact between events):
//   - each job needs `jobMinutes` of work (or its own durationMin), done at speed 1 on a quiet host;
//   - the host dispatches at most C = `capacity` runnable guests, shortest remaining work first (as
//     z/VM favours short transactions, its Q1 users, over long-running ones); among equal jobs that
//     is first come first served. The rest wait in the eligible queue (q = runnable - C, >= 0);
//   - while anyone waits, the host thrashes: every dispatched guest runs at 1 / (1 + thrash * q).
//   - "unresponsive" is time with q > `unresponsiveQueue` (default 0: the hypervisor can no longer
//     dispatch everyone who is runnable, the symptom the field notes describe).
//
// Defaults are calibrated on the field's measurements: a daily job takes ~3 min alone; 35 guests at
// once finish in ~3 min with no queue and the queue reappears at 42 (so C = 41); 110 guests at once
// left the host unusable 1 h 37 min with the last guest done at ~105 min. With C = 41 the 110 run
// is three blocks (41, 41, 28) taking 3(1+69a) + 3(1+28a) + 3 minutes, so a = 0.32 puts both
// figures within 3%: unresponsive 99.1 min, last done 102.1 min (test/schedule/hostmodel.test.ts).
// Not modelled: the field's early trickle (26 guests done in 6-10 min); equal jobs under FIFO
// dispatch finish in blocks of C.
import { UsageError } from '../core/errors.js';

export interface HostModel {
  /** Guests dispatched at once without queueing (C). */
  capacity: number;
  /** Minutes a job takes on a quiet host. */
  jobMinutes: number;
  /** Slowdown per queued guest: dispatched guests run at 1 / (1 + thrash * q). */
  thrash: number;
  /** The host counts as unresponsive while more than this many guests wait. */
  unresponsiveQueue: number;
}

export const DEFAULT_HOST_MODEL: Readonly<HostModel> = {
  capacity: 41,
  jobMinutes: 3,
  thrash: 0.32,
  unresponsiveQueue: 0,
};

export interface HostJob {
  /** Start, in minutes from the origin of the series (e.g. midnight). */
  time: number;
  durationMin?: number;
}

export interface HostSimulation {
  jobs: number;
  peakQueue: number;
  peakRunnable: number;
  /** Minutes with anyone in the eligible queue. */
  queueMinutes: number;
  /** Minutes with the queue above `unresponsiveQueue`. */
  unresponsiveMinutes: number;
  /** When the last job finished (minutes from the origin). */
  lastEnd: number;
  /** Longest time from a job's start to its end. */
  longestJob: number;
  /** Largest queue seen in each minute [m, m+1). */
  queueSeries: number[];
}

interface Running {
  start: number;
  remaining: number;
}

/** Runs the jobs (or per-minute start counts) through the host model. */
export function simulateHost(
  input: readonly number[] | readonly HostJob[],
  overrides: Partial<HostModel> = {},
): HostSimulation {
  const model = { ...DEFAULT_HOST_MODEL, ...overrides };
  if (!Number.isInteger(model.capacity) || model.capacity < 1 || !(model.jobMinutes > 0) || !(model.thrash >= 0)) {
    throw new UsageError(`invalid host model ${JSON.stringify(model)}: capacity >= 1, jobMinutes > 0, thrash >= 0`);
  }
  const jobs = toJobs(input, model.jobMinutes);
  const horizon = input.length > 0 && typeof input[0] === 'number' ? input.length : 0;
  const result: HostSimulation = {
    jobs: jobs.length,
    peakQueue: 0,
    peakRunnable: 0,
    queueMinutes: 0,
    unresponsiveMinutes: 0,
    lastEnd: 0,
    longestJob: 0,
    queueSeries: new Array(horizon).fill(0),
  };
  const active: Running[] = [];
  let t = jobs.length > 0 ? jobs[0]!.time : 0;
  let next = 0;
  while (next < jobs.length || active.length > 0) {
    while (next < jobs.length && jobs[next]!.time <= t) {
      insertByRemaining(active, { start: jobs[next]!.time, remaining: jobs[next]!.durationMin });
      next++;
    }
    if (active.length === 0) {
      t = jobs[next]!.time;
      continue;
    }
    const dispatched = Math.min(active.length, model.capacity);
    const queue = active.length - dispatched;
    const speed = queue === 0 ? 1 : 1 / (1 + model.thrash * queue);
    let soonest = Infinity;
    for (let k = 0; k < dispatched; k++) soonest = Math.min(soonest, active[k]!.remaining);
    const until = Math.min(t + soonest / speed, next < jobs.length ? jobs[next]!.time : Infinity);
    record(result, model, t, until, queue, active.length);
    for (let k = 0; k < dispatched; k++) active[k]!.remaining -= (until - t) * speed;
    t = until;
    // Float residue must not keep a finished job alive for another event.
    for (let k = dispatched - 1; k >= 0; k--) {
      if (active[k]!.remaining <= 1e-9) {
        result.longestJob = Math.max(result.longestJob, t - active[k]!.start);
        result.lastEnd = t;
        active.splice(k, 1);
      }
    }
  }
  return result;
}

/**
 * Keeps `active` sorted by remaining work, a newcomer after the equal ones (first come first served).
 * The first C are the dispatched ones; they all progress at one speed, so the order never changes
 * between arrivals and no re-sorting is needed.
 */
function insertByRemaining(active: Running[], job: Running): void {
  let lo = 0;
  let hi = active.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (active[mid]!.remaining <= job.remaining) lo = mid + 1;
    else hi = mid;
  }
  active.splice(lo, 0, job);
}

function toJobs(input: readonly number[] | readonly HostJob[], jobMinutes: number): Array<Required<HostJob>> {
  const jobs: Array<Required<HostJob>> = [];
  for (const [i, item] of input.entries()) {
    if (typeof item === 'number') {
      for (let c = 0; c < item; c++) jobs.push({ time: i, durationMin: jobMinutes });
    } else {
      const job = { time: item.time, durationMin: item.durationMin ?? jobMinutes };
      if (!(job.time >= 0 && job.time < Infinity && job.durationMin >= 0 && job.durationMin < Infinity)) {
        const what = `job ${i} has start ${job.time} and duration ${job.durationMin}`;
        throw new UsageError(`${what}: both must be finite, >= 0`);
      }
      jobs.push(job);
    }
  }
  // Stable sort keeps equal start times in input order, which is the dispatch order.
  return jobs.filter((j) => j.durationMin > 0).sort((a, b) => a.time - b.time);
}

function record(r: HostSimulation, model: HostModel, from: number, to: number, queue: number, runnable: number): void {
  r.peakQueue = Math.max(r.peakQueue, queue);
  r.peakRunnable = Math.max(r.peakRunnable, runnable);
  if (to <= from) return;
  if (queue > 0) r.queueMinutes += to - from;
  if (queue > model.unresponsiveQueue) r.unresponsiveMinutes += to - from;
  for (let m = Math.floor(from); m < Math.ceil(to); m++) {
    while (r.queueSeries.length <= m) r.queueSeries.push(0);
    r.queueSeries[m] = Math.max(r.queueSeries[m]!, queue);
  }
}
