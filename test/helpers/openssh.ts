// Runs the real OpenSSH client against a server, strictly: the emulator's client key, its
// known_hosts with StrictHostKeyChecking=yes, batch mode, no user or system ssh_config.
import { join } from 'node:path';
import { execa } from 'execa';

export interface OpensshTarget {
  /** Emulator state directory: holds id_ed25519 and known_hosts. */
  state: string;
  address: string;
  port: number;
  user: string;
  /** known_hosts to check against; default STATE/known_hosts. */
  knownHosts?: string;
}

export function opensshArgs(t: OpensshTarget): string[] {
  return [
    '-F', '/dev/null',
    '-i', join(t.state, 'id_ed25519'),
    '-p', String(t.port),
    '-o', `UserKnownHostsFile=${t.knownHosts ?? join(t.state, 'known_hosts')}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'ConnectTimeout=10',
    `${t.user}@${t.address}`,
  ];
}

/** `ssh ... user@address command`; never rejects: the result carries exitCode, stdout and stderr. */
export function runOpenssh(t: OpensshTarget, command: string, timeoutMs = 20_000) {
  return execa('ssh', [...opensshArgs(t), command], { reject: false, timeout: timeoutMs, stdin: 'ignore' });
}
