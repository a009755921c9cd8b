// The flow every fleet-wide command shares: fan out over the targets with the progress display and
// Ctrl-C handling, then summarise. Commands differ only in the per-guest task and how they print.
import { fanout, summarize, type FleetEvent, type FleetSummary, type HostResult, type Target } from '../executor/index.js';
import { trackFanOut } from './in-flight.js';
import { interruptible } from './interrupt.js';
import { progressDisplay } from './render.js';
import type { Stopped } from './rerun.js';

export interface FanOutFlags {
  fanout: number;
  batch?: string;
  maxFail?: string;
  json?: boolean;
  /** Plain progress lines on stderr from the start (they come anyway without a terminal, for long runs). */
  progress?: boolean;
}

export async function fanOutWithProgress<T extends Target>(
  targets: T[],
  /** `signal`: aborted on Ctrl-C, for tasks that can stop between steps. */
  task: (t: T, signal: AbortSignal) => Promise<HostResult>,
  f: FanOutFlags,
): Promise<{ results: HostResult[]; summary: FleetSummary; stopped?: Stopped }> {
  // --json keeps a terminal's stderr quiet; a log (no terminal) still gets the plain lines of a long run.
  const quiet = f.json && process.stderr.isTTY && !f.progress;
  const progress = quiet ? { onEvent: () => {}, finish: () => {} } : progressDisplay(targets.length, { always: !!f.progress });
  const t0 = Date.now();
  const track = trackFanOut(targets, !!f.json);
  let stopped: Stopped | undefined;
  const onEvent = (e: FleetEvent) => {
    if (e.type === 'stopped') stopped = e;
    track(e);
    progress.onEvent(e);
  };
  const results = await interruptible((signal) =>
    fanout(targets, (t) => task(t, signal), { fanout: f.fanout, batch: f.batch, maxFail: f.maxFail, onEvent, signal }),
  );
  progress.finish();
  return { results, summary: summarize(results, targets.length, Date.now() - t0), stopped };
}
