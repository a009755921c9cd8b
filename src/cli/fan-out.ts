// The flow every fleet-wide command shares: fan out over the targets with the progress display and
// Ctrl-C handling, then summarise. Commands differ only in the per-guest task and how they print.
import { fanout, summarize, type FleetEvent, type FleetSummary, type HostResult, type Target } from '../executor/index.js';
import { trackFanOut } from './in-flight.js';
import { interruptible } from './interrupt.js';
import { progressDisplay } from './render.js';

export interface FanOutFlags {
  fanout: number;
  batch?: string;
  maxFail?: string;
  json?: boolean;
}

export async function fanOutWithProgress<T extends Target>(
  targets: T[],
  /** `signal`: aborted on Ctrl-C, for tasks that can stop between steps. */
  task: (t: T, signal: AbortSignal) => Promise<HostResult>,
  f: FanOutFlags,
): Promise<{ results: HostResult[]; summary: FleetSummary }> {
  const progress = f.json ? { onEvent: () => {}, finish: () => {} } : progressDisplay(targets.length);
  const t0 = Date.now();
  const track = trackFanOut(targets, !!f.json);
  const onEvent = (e: FleetEvent) => (track(e), progress.onEvent(e));
  const results = await interruptible((signal) =>
    fanout(targets, (t) => task(t, signal), { fanout: f.fanout, batch: f.batch, maxFail: f.maxFail, onEvent, signal }),
  );
  progress.finish();
  return { results, summary: summarize(results, targets.length, Date.now() - t0) };
}
