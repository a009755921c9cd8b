// Printing fleet results: gathered blocks for people, JSON Lines for scripts, per-host files, and a
// one-line progress display on a terminal. The core hands over data; only this module writes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gather, type FleetEvent, type FleetSummary, type HostResult } from '../executor/index.js';
import { foldHosts } from '../inventory/index.js';

const out = (s: string) => process.stdout.write(s);

export function printJsonLines(results: HostResult[], summary: FleetSummary): void {
  for (const r of results) out(`${JSON.stringify(r)}\n`);
  out(`${JSON.stringify({ summary })}\n`);
}

export function writeOutDir(dir: string, results: HostResult[]): void {
  mkdirSync(dir, { recursive: true });
  for (const r of results) {
    writeFileSync(join(dir, `${r.host}.stdout`), r.stdout);
    writeFileSync(join(dir, `${r.host}.stderr`), r.stderr);
  }
}

function block(title: string, body: string): string {
  const rule = '-'.repeat(Math.min(72, Math.max(15, title.length)));
  return `${rule}\n${title}\n${rule}\n${body}${body && !body.endsWith('\n') ? '\n' : ''}`;
}

export function printGathered(results: HostResult[], summary: FleetSummary, verb: string): void {
  for (const g of gather(results).filter((x) => x.status === 'ok' || x.status === 'failed')) {
    const head = `${g.folded} (${g.hosts.length})${g.status === 'failed' ? `  exit ${g.exitCode ?? 'signal'}` : ''}`;
    out(block(head, g.stdout + (g.stderr ? `[stderr]\n${g.stderr}` : '')));
  }
  const failures = results.filter((r) => r.status !== 'ok');
  if (failures.length > 0) {
    out('\nFailures by reason:\n');
    const byReason = new Map<string, HostResult[]>();
    for (const r of failures) {
      const reason = r.status === 'failed' ? `failed (${r.signal ? `signal ${r.signal}` : `exit ${r.exitCode}`})` : r.status;
      byReason.set(reason, [...(byReason.get(reason) ?? []), r]);
    }
    for (const [reason, rs] of byReason) {
      out(`  ${reason.padEnd(18)} ${foldHosts(rs.map((r) => r.host))} (${rs.length})\n`);
      const sample = rs[0]!.error;
      if (sample && reason !== 'failed') out(`  ${''.padEnd(18)} e.g. ${sample}\n`);
    }
  }
  const parts = Object.entries(summary)
    .filter(([k, v]) => !['total', 'durationMs'].includes(k) && v > 0)
    .map(([k, v]) => `${v} ${k}`);
  out(`\n${verb}: ${parts.join(', ') || 'nothing'} of ${summary.total} in ${(summary.durationMs / 1000).toFixed(1)} s\n`);
}

/** done/total, failures and rate on one rewritten stderr line; nothing at all when not a TTY. */
export function progressDisplay(total: number): { onEvent: (e: FleetEvent) => void; finish: () => void } {
  if (!process.stderr.isTTY) return { onEvent: () => {}, finish: () => {} };
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
