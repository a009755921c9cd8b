// The audit's data: what was collected from each guest, the findings drawn from it, and their order
// (worst first). No I/O here, so the checks and their tests need nothing but these shapes.
import type { HostStatus } from '../executor/index.js';
import type { PinnedKey, PresentedKey } from '../ssh/index.js';

/** Every check the audit makes, as named in `--json` output and `--ignore`. */
export const CHECK_IDS = [
  'shared-host-key', 'revoked-host-key', 'changed-host-key', 'uid0-account', 'shared-password-hash',
  'admin-password', 'strict-host-key-checking', 'shared-machine-id', 'cron-storm', 'unreachable',
  'shared-hostname', 'stale-pin', 'not-checked', 'no-pq-kex',
] as const;
export type CheckId = (typeof CHECK_IDS)[number];

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Finding {
  check: CheckId;
  severity: Severity;
  /** One line: what was found. */
  title: string;
  /** The guests involved, in inventory order. */
  hosts: string[];
  /** One line naming the playbook or command that fixes it. */
  remedy: string;
  /** Further lines: files and lines, fingerprints, times, examples. Never a secret (no hashes). */
  details: string[];
  /** Machine-readable particulars for `--json` (account, file, fingerprint, value...). */
  data?: Record<string, unknown>;
}

/** What one guest's audit command printed, parsed: files by path, plus what could not be read. */
export interface GuestFacts {
  files: Map<string, string>;
  /** Paths that exist but could not be read (without sudo: /etc/shadow, the cron spools). */
  unreadable: string[];
  /** `uname -n` on the guest. */
  nodename: string;
  /** False when `sudo -n` was refused and the command ran as the login user. */
  privileged: boolean;
  /** What sudo said when it refused. */
  sudoError?: string;
}

/** Everything collected from one guest in its one pass. */
export interface GuestAudit {
  host: string;
  address: string;
  /** The login and the audit command: ok, or why not (the executor's statuses). */
  login: { status: HostStatus; error?: string };
  facts?: GuestFacts;
  /** The keys the guest presents (the scan) and what known_hosts says of each; absent when not probed. */
  keys?: { presented: PresentedKey[]; verdicts: ('ok' | 'unknown' | 'changed' | 'revoked')[] };
  keysError?: string;
  /** Keys known_hosts pins for this guest by its own name (not through wildcards), revoked ones left out. */
  pins: PinnedKey[];
  /** The known_hosts file the pins are in, for remedies naming lines. */
  knownHostsFile?: string;
  /** Key exchange methods the guest's sshd offers, in its order; absent when not read. */
  kex?: string[];
  /** Why the offer was not read (an error, or a route it cannot be read through). */
  kexError?: string;
}

export interface AuditOptions {
  /** The scheduler's cap: most guests starting cron jobs in one minute before it is a storm. */
  cap: number;
  /** The day whose cron starts are expanded (default today) and its time zone (default UTC). */
  day?: Date;
  tz?: string;
  /** Checks left out of the findings (counted in the summary). */
  ignore?: readonly CheckId[];
}

export interface AuditSummary {
  guests: number;
  /** Guests whose audit command ran. */
  audited: number;
  unreachable: number;
  findings: number;
  bySeverity: Record<Severity, number>;
  /** Per check: how many findings. */
  byCheck: Partial<Record<CheckId, number>>;
  ignored: number;
  /** The cron peak against the cap (null when no cron files were read). */
  cron: { peak: number; cap: number; peakMinutes: string[] } | null;
  /** Checks that could not be made on some guests and are not findings (the kex offer behind a jump host). */
  notes: string[];
  durationMs?: number;
}

export interface AuditReport {
  findings: Finding[];
  summary: AuditSummary;
}

const RANK: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: 3 };

/** Worst first: by severity, then the finding touching more guests, then the check's order above. */
export function sortFindings(findings: Finding[]): Finding[] {
  return [...findings].sort((a, b) =>
    RANK[a.severity] - RANK[b.severity] || b.hosts.length - a.hosts.length || CHECK_IDS.indexOf(a.check) - CHECK_IDS.indexOf(b.check));
}
