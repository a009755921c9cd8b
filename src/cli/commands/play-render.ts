// Printing a playbook run for people: guests whose steps ended alike fold into one block headed by
// their host range (as `fleet run` gathers output), each step on one line, then one summary line.
import { gather, type FleetSummary, type HostResult } from '../../executor/index.js';
import { stepWords, type PlayResult, type StepResult } from '../../playbook/index.js';

const out = (s: string) => process.stdout.write(s);
const indent = (text: string, by: string) => text.replace(/\n$/, '').split('\n').map((l) => `${by}${l}`).join('\n');

/** Step counts over every guest: `changed`, `unchanged`, `skipped`, `failed`, `notRun`. */
export function stepCounts(results: PlayResult[]): Record<'changed' | 'unchanged' | 'skipped' | 'failed' | 'notRun', number> {
  const c = { changed: 0, unchanged: 0, skipped: 0, failed: 0, notRun: 0 };
  for (const s of results.flatMap((r) => r.steps)) {
    if (s.status === 'ok') c[s.changed ? 'changed' : 'unchanged']++;
    else c[s.status === 'not-run' ? 'notRun' : s.status]++;
  }
  return c;
}

function stepLine(s: StepResult): string {
  const lines = [`  ${String(s.step).padStart(2)} ${stepWords(s).padEnd(13)} ${s.name}${s.note ? ` (${s.note})` : ''}${s.attempts ? ` [${s.attempts} attempts]` : ''}`];
  if (s.error) lines.push(indent(s.error, '       '));
  if (s.status === 'failed' && s.stderr?.trim()) lines.push(indent(s.stderr.trim().split('\n').slice(-5).join('\n'), '       | '));
  if (s.diff) lines.push(indent(s.diff, '       '));
  return lines.join('\n');
}

/** What one guest's block says: its steps, or why none ran. Host names are left out so guests fold. */
function report(r: PlayResult): string {
  const started = r.steps.some((s) => s.status !== 'not-run');
  const body = started ? r.steps.filter((s) => s.status !== 'not-run' || r.status === 'ok').map(stepLine) : [];
  const stopped = r.steps.find((s) => s.status === 'not-run');
  if (r.status !== 'ok' && stopped) {
    body.push(started ? `  stopped before step ${stopped.step} (${stopped.name})` : `  ${r.error?.replaceAll(r.host, '<host>').replaceAll(r.address, '<address>') ?? r.status}`);
  }
  return `${body.join('\n')}\n`;
}

export function printPlay(results: PlayResult[], summary: FleetSummary, opts: { check: boolean; name: string }): void {
  out(`${opts.check ? 'check (nothing changes)' : 'play'}: ${opts.name}\n`);
  const pseudo: HostResult[] = results.map((r) => ({ ...r, stdout: report(r), stderr: '', error: undefined, backup: undefined, changed: false }));
  const byHost = new Map(results.map((r) => [r.host, r]));
  for (const g of gather(pseudo)) {
    const title = `${g.folded} (${g.hosts.length})${g.status === 'ok' ? '' : `  ${g.status}`}`;
    const rule = '-'.repeat(Math.min(72, Math.max(15, title.length)));
    // A block of one guest names it; the placeholders only let several guests' reports fold.
    const one = g.hosts.length === 1 ? byHost.get(g.hosts[0]!) : undefined;
    const body = one ? (g.stdout ?? '').replaceAll('<host>', one.host).replaceAll('<address>', one.address) : g.stdout;
    out(`${rule}\n${title}\n${rule}\n${body}`);
  }
  const parts = Object.entries(summary)
    .filter(([k, v]) => !['total', 'durationMs'].includes(k) && typeof v === 'number' && v > 0)
    .map(([k, v]) => `${v} ${k === 'notRun' ? 'not run' : k}`);
  const c = stepCounts(results);
  const steps = `steps: ${c.changed} ${opts.check ? 'would change' : 'changed'}, ${c.unchanged} unchanged, ${c.skipped} skipped, ${c.failed} failed` +
    (c.notRun ? `, ${c.notRun} not run` : '');
  out(`\n${opts.check ? 'check' : 'play'}: ${parts.join(', ') || 'nothing'} of ${summary.total} guests in ${(summary.durationMs / 1000).toFixed(1)} s (${steps})\n`);
}
