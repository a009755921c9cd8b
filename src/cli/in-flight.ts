// The fleet-wide work in progress as the CLI knows it (the guests selected, the results in so far),
// so that main() can still account for every guest if that work stops short of finishing.
import type { FleetEvent, HostResult, Target } from '../executor/index.js';

interface InFlight {
  targets: Target[];
  done: HostResult[];
  json: boolean;
  started: number;
}

let current: InFlight | undefined;

/** Starts tracking a fan-out; feed it the fan-out's events. */
export function trackFanOut(targets: Target[], json: boolean): (e: FleetEvent) => void {
  const mine: InFlight = { targets, done: [], json, started: Date.now() };
  current = mine;
  return (e) => {
    if (e.type === 'done') mine.done.push(e.result);
  };
}

export function resetInFlight(): void {
  current = undefined;
}

/**
 * Every selected guest's result: those that came in, and the others as failures saying that their
 * work was lost track of. Undefined when no fan-out was under way.
 */
export function accountForLost(): { results: HostResult[]; selected: number; durationMs: number; lost: string[]; json: boolean } | undefined {
  if (!current) return undefined;
  const { targets, done, json, started } = current;
  const finished = new Set(done.map((r) => r.host));
  const lostTargets = targets.filter((t) => !finished.has(t.name));
  const durationMs = Date.now() - started;
  const results = [
    ...done,
    ...lostTargets.map((t): HostResult => ({
      host: t.name, address: t.address, status: 'failed', exitCode: null, stdout: '', stderr: '', changed: false, durationMs,
      error: `${t.name}: lost track of this guest: its work stopped without an outcome (a defect in fleet); what happened on it is unknown, check it`,
    })),
  ];
  return { results, selected: targets.length, durationMs, lost: lostTargets.map((t) => t.name), json };
}
