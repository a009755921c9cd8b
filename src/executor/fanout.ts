// Fan-out over the selected guests: p-limit for the concurrency cap, optional rolling batches with
// a failure budget, cooperative interruption. Emits typed progress events; never prints.
import pLimit from 'p-limit';
import type { HostResult } from './result.js';

export type FleetEvent =
  | { type: 'start'; host: string }
  | { type: 'done'; result: HostResult }
  | { type: 'batch'; index: number; of: number; size: number }
  /**
   * Some guests were never started: the failure budget was spent (`failed` > `budget`) before batch
   * `batch` of `of`, or the run was interrupted. Emitted once, after the last guest finished.
   */
  | { type: 'stopped'; reason: 'max-fail' | 'interrupted'; batch: number; of: number; failed: number; budget: number; notStarted: string[] };

export interface FanoutOptions {
  fanout: number;
  /** Batch size (`10` or `25%`); default: one batch of everything. */
  batch?: string;
  /** Stop before the next batch once more than this many (`5` or `10%`) guests failed. */
  maxFail?: string;
  onEvent?: (e: FleetEvent) => void;
  /** Once aborted, no new guest starts; running ones finish (their task decides how to stop). */
  signal?: AbortSignal;
}

export interface Target {
  name: string;
  address: string;
}

/** `N` or `P%` of a total, at least 1 for a batch size. */
export function parseAmount(spec: string, total: number, what: string): number {
  const m = /^(\d+)(%)?$/.exec(spec.trim());
  if (!m) throw new Error(`${what} must be a number or a percentage, got '${spec}'`);
  const n = Number(m[1]);
  return m[2] ? Math.floor((total * n) / 100) : n;
}

export async function fanout<T extends Target>(
  targets: T[],
  task: (t: T) => Promise<HostResult>,
  opts: FanoutOptions,
): Promise<HostResult[]> {
  const limit = pLimit(Math.max(1, opts.fanout));
  const size = opts.batch ? Math.max(1, parseAmount(opts.batch, targets.length, '--batch')) : targets.length;
  const budget = opts.maxFail !== undefined ? parseAmount(opts.maxFail, targets.length, '--max-fail') : Infinity;
  const results: HostResult[] = [];
  let failures = 0;
  const batches = Math.ceil(targets.length / size);
  let stoppedAt = -1;
  for (let b = 0; b < batches; b++) {
    if (opts.signal?.aborted || failures > budget) {
      stoppedAt = b;
      break;
    }
    const batch = targets.slice(b * size, (b + 1) * size);
    if (batches > 1) opts.onEvent?.({ type: 'batch', index: b + 1, of: batches, size: batch.length });
    const done = await Promise.all(
      batch.map((t) =>
        limit(async () => {
          if (opts.signal?.aborted) return undefined;
          opts.onEvent?.({ type: 'start', host: t.name });
          const r = await task(t);
          if (r.status !== 'ok') failures++;
          opts.onEvent?.({ type: 'done', result: r });
          return r;
        }),
      ),
    );
    for (const r of done) if (r) results.push(r);
  }
  if (results.length < targets.length) {
    const started = new Set(results.map((r) => r.host));
    const notStarted = targets.filter((t) => !started.has(t.name)).map((t) => t.name);
    const first = targets.findIndex((t) => !started.has(t.name));
    opts.onEvent?.({
      type: 'stopped', reason: stoppedAt >= 0 && !opts.signal?.aborted ? 'max-fail' : 'interrupted',
      batch: Math.floor(first / size) + 1, of: batches, failed: failures, budget, notStarted,
    });
  }
  return results;
}
