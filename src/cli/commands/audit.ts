// `fleet audit [sel]`: collects and judges (src/audit), then prints the findings as a table or JSON
// Lines, and exits 1 when anything was found (3 when a guest's host key does not match its pin).
import { auditFleet, type AuditReport, type CheckId, type Finding } from '../../audit/index.js';
import { EXIT } from '../../core/index.js';
import { foldHosts } from '../../inventory/index.js';
import { setExitStatus } from '../exit.js';
import { interruptible } from '../interrupt.js';
import { progressDisplay } from '../render.js';
import { resolveSelection, type SelectionFlags } from '../selection.js';

export interface AuditFlags extends SelectionFlags {
  fanout: number;
  cap: number;
  ignore?: CheckId[];
  json?: boolean;
}

const out = (s: string) => process.stdout.write(s);

export async function audit(selection: string | undefined, f: AuditFlags): Promise<void> {
  const sel = await resolveSelection(selection, f);
  const progress = f.json ? { onEvent: () => {}, finish: () => {} } : progressDisplay(sel.targets.length);
  let report: AuditReport;
  try {
    report = await interruptible((signal) =>
      auditFleet(sel.targets, sel.session, { fanout: f.fanout, cap: f.cap, ignore: f.ignore, onEvent: progress.onEvent, signal }));
  } finally {
    progress.finish();
  }
  if (f.json) {
    for (const x of report.findings) out(`${JSON.stringify(findingJson(x))}\n`);
    out(`${JSON.stringify({ summary: report.summary })}\n`);
  } else {
    printTable(report);
  }
  if (report.findings.length > 0) setExitStatus(refusedKey(report) ? EXIT.hostKey : EXIT.someFailed);
}

/** A guest presented a key its pin does not match (or a revoked one): exit 3, as every other command. */
const refusedKey = (r: AuditReport) => r.findings.some((x) =>
  x.check === 'changed-host-key' || x.check === 'revoked-host-key' || (x.check === 'unreachable' && x.data?.status === 'hostkey-refused'));

export function findingJson(x: Finding) {
  return { check: x.check, severity: x.severity, title: x.title, hosts: foldHosts(x.hosts), guests: x.hosts.length, remedy: x.remedy, details: x.details, ...(x.data ? { data: x.data } : {}) };
}

/** Cells wider than this go on a line of their own (a long host list is a selection to copy whole). */
const MAX_CELL = 40;

function printTable(r: AuditReport): void {
  const s = r.summary;
  if (r.findings.length > 0) {
    const rows = r.findings.map((x) => ({ x, hosts: `${foldHosts(x.hosts)} (${x.hosts.length})` }));
    const cw = Math.max(5, ...r.findings.map((x) => x.check.length));
    const hw = Math.max(6, ...rows.map((row) => row.hosts.length).filter((n) => n <= MAX_CELL));
    out(`${'SEVERITY'.padEnd(8)}  ${'CHECK'.padEnd(cw)}  ${'GUESTS'.padEnd(hw)}  FINDING\n`);
    for (const { x, hosts } of rows) {
      if (hosts.length > hw) out(`${hosts}\n`);
      out(`${x.severity.toUpperCase().padEnd(8)}  ${x.check.padEnd(cw)}  ${(hosts.length > hw ? '' : hosts).padEnd(hw)}  ${x.title}\n`);
      const pad = ' '.repeat(8 + 2 + cw + 2 + hw + 2);
      for (const d of x.details) out(`${pad}${d}\n`);
      out(`${pad}fix: ${x.remedy}\n`);
    }
    out('\n');
  }
  for (const n of s.notes) out(`note: ${n}\n`);
  const sev = (['critical', 'high', 'medium', 'low'] as const).filter((k) => s.bySeverity[k] > 0).map((k) => `${s.bySeverity[k]} ${k}`);
  const cron = s.cron ? `; cron peak ${s.cron.peak} guests a minute (cap ${s.cron.cap})` : '';
  const ignored = s.ignored > 0 ? `; ${s.ignored} ignored` : '';
  const time = s.durationMs !== undefined ? ` in ${(s.durationMs / 1000).toFixed(1)} s` : '';
  out(r.findings.length === 0
    ? `audit: clean: ${s.audited} of ${s.guests} guests audited, nothing found${cron}${ignored}${time}\n`
    : `audit: ${r.findings.length} finding${r.findings.length === 1 ? '' : 's'} (${sev.join(', ')}); ${s.audited} of ${s.guests} guests audited${cron}${ignored}${time}\n`);
}
