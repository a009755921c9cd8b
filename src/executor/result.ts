// The result model: one HostResult per guest (success and failure share the shape), a summary over them.

export const STATUSES = ['ok', 'failed', 'unreachable', 'auth-refused', 'hostkey-refused', 'timeout'] as const;
export type HostStatus = (typeof STATUSES)[number];

export interface HostResult {
  host: string;
  address: string;
  status: HostStatus;
  exitCode: number | null;
  signal?: string | null;
  stdout: string;
  stderr: string;
  /** push: whether the guest's file changed; run: always true (a command ran). */
  changed: boolean;
  durationMs: number;
  /** push --backup: where the guest's previous version was kept. */
  backup?: string;
  /** What went wrong, naming the host and the step; absent when ok. */
  error?: string;
}

export type FleetSummary = Record<HostStatus, number> & {
  total: number;
  /** Selected guests never started (max-fail budget exceeded, or interrupted). */
  notRun: number;
  durationMs: number;
};

export function summarize(results: HostResult[], selected: number, durationMs: number): FleetSummary {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<HostStatus, number>;
  for (const r of results) counts[r.status]++;
  return { ...counts, total: selected, notRun: selected - results.length, durationMs };
}

/** Exit status of the CLI contract: 3 if any host key was refused, 1 if anything else failed. */
export function exitCodeOf(summary: FleetSummary): number {
  if (summary['hostkey-refused'] > 0) return 3;
  return summary.ok === summary.total ? 0 : 1;
}
