// The result model: one HostResult per guest (success and failure share the shape), a summary over them.

export const STATUSES = ['ok', 'failed', 'unreachable', 'auth-refused', 'hostkey-refused', 'timeout'] as const;
export type HostStatus = (typeof STATUSES)[number];

export interface HostResult {
  host: string;
  address: string;
  status: HostStatus;
  exitCode: number | null;
  signal?: string | null;
  /** The command's output as text (UTF-8), or null when it is not text: then `stdoutBase64` holds it. */
  stdout: string | null;
  stderr: string | null;
  /** Output that is not UTF-8, base64-encoded (absent for text). */
  stdoutBase64?: string;
  stderrBase64?: string;
  /**
   * Bytes left out of a long output: what is kept is its head, a `[N bytes omitted]` line and its
   * tail (absent when nothing was left out; `--out` files always hold everything).
   */
  stdoutOmitted?: number;
  stderrOmitted?: number;
  /** SHA-256 (hex) of the whole output, given when part of it was omitted. */
  stdoutSha256?: string;
  stderrSha256?: string;
  /** push: whether the guest's file changed; run: always true (a command ran). */
  changed: boolean;
  durationMs: number;
  /** push --backup: where the guest's previous version was kept. */
  backup?: string;
  /** What went wrong, naming the host and the step; absent when ok. */
  error?: string;
  /** The SSH key exchange negotiated with the guest (absent when it was not reached). */
  kex?: string;
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
