// Progress for logs: without a terminal (cron, CI, `| tee`), a plain line on stderr every few seconds
// of a long run and at each batch, so a log shows where a run was; --progress asks for them from the
// start, on a terminal too.
import type { FleetEvent } from '../executor/index.js';

export interface ProgressLineOptions {
  /** Seconds between lines (a run shorter than this prints none unless `always`). */
  everyS: number;
  /** From the start (--progress), rather than only once a run has lasted `everyS`. */
  always?: boolean;
  write?: (line: string) => void;
}

export function progressLines(total: number, o: ProgressLineOptions): { onEvent: (e: FleetEvent) => void; finish: () => void } {
  const write = o.write ?? ((s: string) => process.stderr.write(s));
  const t0 = Date.now();
  let done = 0;
  let failed = 0;
  let running = 0;
  const line = (what = '') => {
    const s = Math.round((Date.now() - t0) / 1000);
    write(`fleet: progress ${done}/${total} done, ${failed} failed, ${running} running, ${s} s${what}\n`);
  };
  const timer = setInterval(() => line(), o.everyS * 1000);
  // The timer must not keep a finished CLI alive, nor hold up Node's exit.
  timer.unref();
  return {
    onEvent: (e) => {
      if (e.type === 'start') running++;
      else if (e.type === 'done') {
        running--;
        done++;
        if (e.result.status !== 'ok') failed++;
      } else if (e.type === 'batch' && (o.always || Date.now() - t0 >= o.everyS * 1000)) {
        line(`; batch ${e.index} of ${e.of} (${e.size} guests) starting`);
      }
    },
    finish: () => {
      clearInterval(timer);
      if (o.always) line('; finished');
    },
  };
}
