// Gathered output, as ClusterShell's MsgTree: guests with identical output and exit status fold into
// one group headed by their folded host range. Pure.
import { foldHosts } from '../inventory/index.js';
import type { HostResult, HostStatus } from './result.js';

export interface OutputGroup {
  hosts: string[];
  folded: string;
  stdout: string;
  stderr: string;
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
    const key = JSON.stringify([r.status, r.exitCode, r.stdout, r.stderr, r.changed, r.backup, error]);
    let g = groups.get(key);
    if (!g) {
      g = { hosts: [], folded: '', stdout: r.stdout, stderr: r.stderr, status: r.status, exitCode: r.exitCode, changed: r.changed, backup: r.backup, error };
      groups.set(key, g);
    }
    g.hosts.push(r.host);
  }
  const out = [...groups.values()];
  for (const g of out) g.folded = foldHosts(g.hosts);
  return out.sort((a, b) => b.hosts.length - a.hosts.length || a.folded.localeCompare(b.folded));
}
