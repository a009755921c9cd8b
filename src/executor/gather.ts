// Gathered output, as ClusterShell's MsgTree: guests with identical output and exit status fold into
// one group headed by their folded host range. Outputs compare by their bytes (text, base64 and the
// whole output's digest when part of it was omitted). Pure.
import { createHash } from 'node:crypto';
import { foldHosts } from '../inventory/index.js';
import type { HostResult, HostStatus } from './result.js';

export interface OutputGroup {
  hosts: string[];
  folded: string;
  stdout: string | null;
  stderr: string | null;
  stdoutBase64?: string;
  stderrBase64?: string;
  stdoutOmitted?: number;
  stderrOmitted?: number;
  status: HostStatus;
  exitCode: number | null;
  /** push: whether these guests' file changed (run: always true). */
  changed: boolean;
  backup?: string;
  /** The shared error with the host's name and address as `<host>`, `<address>`. */
  error?: string;
}

/** Groups results by (status, exit code, stdout, stderr, changed, backup, error), largest group first. */
export function gather(results: HostResult[]): OutputGroup[] {
  const groups = new Map<string, OutputGroup>();
  for (const r of results) {
    // Errors name their host; strip it so identical failures still fold together.
    const error = r.error?.replaceAll(r.host, '<host>').replaceAll(r.address, '<address>');
    const output = [r.stdout, r.stdoutBase64, r.stdoutSha256, r.stderr, r.stderrBase64, r.stderrSha256];
    // A digest as the key: a long output is not held a second time for every distinct group.
    const key = createHash('sha256').update(JSON.stringify([r.status, r.exitCode, ...output, r.changed, r.backup, error])).digest('base64');
    let g = groups.get(key);
    if (!g) {
      g = {
        hosts: [], folded: '', stdout: r.stdout, stderr: r.stderr,
        ...(r.stdoutBase64 !== undefined ? { stdoutBase64: r.stdoutBase64 } : {}),
        ...(r.stderrBase64 !== undefined ? { stderrBase64: r.stderrBase64 } : {}),
        ...(r.stdoutOmitted ? { stdoutOmitted: r.stdoutOmitted } : {}),
        ...(r.stderrOmitted ? { stderrOmitted: r.stderrOmitted } : {}),
        status: r.status, exitCode: r.exitCode, changed: r.changed, backup: r.backup, error,
      };
      groups.set(key, g);
    }
    g.hosts.push(r.host);
  }
  const out = [...groups.values()];
  for (const g of out) g.folded = foldHosts(g.hosts);
  return out.sort((a, b) => b.hosts.length - a.hosts.length || a.folded.localeCompare(b.folded));
}
