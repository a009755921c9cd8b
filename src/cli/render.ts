// Printing fleet results: gathered blocks for people, JSON Lines for scripts, per-host files, and a
// one-line progress display on a terminal. The core hands over data; only this module writes.
import { gather, receivedBytes, type FleetEvent, type FleetSummary, type HostResult, type OutputGroup } from '../executor/index.js';
import { foldHosts } from '../inventory/index.js';

import { progressLines } from './progress-lines.js';

export { writeOutDir } from './out-dir.js';

const out = (s: string) => process.stdout.write(s);

export function printJsonLines(results: HostResult[], summary: FleetSummary & Record<string, unknown>): void {
  for (const r of results) out(`${JSON.stringify(r)}\n`);
  out(`${JSON.stringify({ summary })}\n`);
}

function block(title: string, body: string): string {
  const rule = '-'.repeat(Math.min(72, Math.max(15, title.length)));
  return `${rule}\n${title}\n${rule}\n${body}${body && !body.endsWith('\n') ? '\n' : ''}`;
}

export interface GatheredOptions {
  /** The body of a block of guests that succeeded (default: their stdout and stderr). */
  describeOk?: (g: OutputGroup) => string;
  /** Extra words for the summary line, e.g. `480 changed, 20 unchanged`. */
  note?: string;
}

const reasonOf = (r: { status: string; exitCode: number | null; signal?: string | null }) =>
  r.status !== 'failed' ? r.status : r.signal ? `failed (signal ${r.signal})` : r.exitCode === null ? 'failed' : `failed (exit ${r.exitCode})`;

export function printGathered(results: HostResult[], summary: FleetSummary, verb: string, opts: GatheredOptions = {}): void {
  const groups = gather(results);
  for (const g of groups) {
    if (g.status === 'ok') out(block(`${g.folded} (${g.hosts.length})`, opts.describeOk ? opts.describeOk(g) : output(g)));
    // A failed command's output is worth reading; a failed step (no output of its own) is listed below.
    else if (g.status === 'failed' && (g.stdout !== '' || g.stderr !== '') && !opts.describeOk) {
      out(block(`${g.folded} (${g.hosts.length})  exit ${g.exitCode ?? 'signal'}`, output(g)));
    }
  }
  const failures = results.filter((r) => r.status !== 'ok');
  if (failures.length > 0) {
    out('\nFailures by reason:\n');
    const byReason = new Map<string, HostResult[]>();
    for (const r of failures) byReason.set(reasonOf(r), [...(byReason.get(reasonOf(r)) ?? []), r]);
    for (const [reason, rs] of byReason) {
      out(`  ${reason.padEnd(18)} ${foldHosts(rs.map((r) => r.host))} (${rs.length})\n`);
      // Each distinct error once (host names folded out), told in one guest's own words.
      const seen = new Set<string>();
      for (const g of gather(rs)) {
        if (!g.error || seen.has(g.error) || seen.size >= 5) continue;
        seen.add(g.error);
        const sample = rs.find((r) => r.host === g.hosts[0])!.error!;
        // A command's non-zero exit says nothing the reason line does not.
        if (!opts.describeOk && /: exit status \d+$/.test(sample)) continue;
        out(`  ${''.padEnd(18)} ${g.hosts.length > 1 ? `${g.folded} (${g.hosts.length}), e.g. ` : ''}${sample}\n`);
      }
    }
  }
  const parts = Object.entries(summary)
    .filter(([k, v]) => !['total', 'durationMs'].includes(k) && typeof v === 'number' && v > 0)
    .map(([k, v]) => `${v} ${k === 'notRun' ? 'not started' : k}`);
  const note = opts.note ? ` (${opts.note})` : '';
  out(`\n${verb}: ${parts.join(', ') || 'nothing'}${note} of ${summary.total} in ${(summary.durationMs / 1000).toFixed(1)} s\n`);
}

/** Text as it came; bytes that are not text (not UTF-8, or with NULs) only by their size. */
function shown(text: string | null, base64: string | undefined, omitted: number | undefined): string {
  if (text !== null && !text.includes('\0')) return text;
  const kept = text !== null ? Buffer.byteLength(text) : Buffer.byteLength(base64 ?? '', 'base64');
  return `[${receivedBytes(kept, omitted ?? 0)} bytes of binary output]\n`;
}

const output = (g: OutputGroup) => {
  const stderr = shown(g.stderr, g.stderrBase64, g.stderrOmitted);
  return shown(g.stdout, g.stdoutBase64, g.stdoutOmitted) + (stderr ? `[stderr]\n${stderr}` : '');
};

/**
 * done/total, failures and rate on one rewritten stderr line on a terminal; elsewhere (or with
 * `plain`, from --progress) plain lines every few seconds of a long run (./progress-lines.ts).
 */
export function progressDisplay(total: number, plain?: { always: boolean }): { onEvent: (e: FleetEvent) => void; finish: () => void } {
  if (!process.stderr.isTTY || plain?.always) return progressLines(total, { everyS: plain?.always ? 2 : 10, always: plain?.always });
  const t0 = Date.now();
  let done = 0;
  let failed = 0;
  let last = 0;
  const draw = (force = false) => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    const rate = done / Math.max(0.001, (now - t0) / 1000);
    process.stderr.write(`\r\x1b[K[${done}/${total}] failed ${failed}  ${rate.toFixed(0)}/s`);
  };
  return {
    onEvent: (e) => {
      if (e.type !== 'done') return;
      done++;
      if (e.result.status !== 'ok') failed++;
      draw();
    },
    finish: () => {
      draw(true);
      process.stderr.write('\r\x1b[K');
    },
  };
}
