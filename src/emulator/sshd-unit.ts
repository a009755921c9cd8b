// What the guest's ssh.service runs before sshd, as systemd reads it: ExecStartPre= lines of the
// drop-ins in /etc/systemd/system/ssh.service.d/*.conf (and sshd.service.d, the unit's other name).
// An image prepared for cloning puts `ssh-keygen -A` there, so each clone makes its own host keys on
// its first start; the emulator runs these lines, as root on the guest, at every sshd (re)start.
import { readdirSync } from 'node:fs';
import { hostPath, readGuest } from './guest-fs.js';

const DROP_IN_DIRS = ['/etc/systemd/system/ssh.service.d', '/etc/systemd/system/sshd.service.d'];

export interface PreStart {
  /** The command line (run through /bin/sh -c). */
  command: string;
  /** systemd's `-` prefix: a failure does not stop the start. */
  ignoreFailure: boolean;
  /** Where it was set, for messages. */
  file: string;
}

/** The ExecStartPre= commands in effect, in systemd's order (drop-ins sorted by file name; an empty
 * assignment clears the ones before it). A guest without drop-ins costs one failed directory read. */
export function sshdPreStart(guestDir: string): PreStart[] {
  const files = new Map<string, string>();
  for (const dir of DROP_IN_DIRS) {
    const host = hostPath(guestDir, dir);
    let names: string[];
    try {
      names = host ? readdirSync(host) : [];
    } catch {
      continue;
    }
    // A name in both directories: systemd reads one file of that name; the first directory wins here.
    for (const n of names) if (n.endsWith('.conf') && !files.has(n)) files.set(n, `${dir}/${n}`);
  }
  let pre: PreStart[] = [];
  for (const name of [...files.keys()].sort()) {
    const file = files.get(name)!;
    // readGuest refuses symlinks out of the guest, FIFOs and huge files.
    const text = readGuest(guestDir, file) ?? '';
    let section = '';
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
      const head = /^\[(.+)\]$/.exec(line);
      if (head) {
        section = head[1]!;
        continue;
      }
      const m = /^ExecStartPre\s*=\s*(.*)$/.exec(line);
      if (section !== 'Service' || !m) continue;
      if (m[1] === '') {
        pre = [];
        continue;
      }
      const prefix = /^[-@:+!]*/.exec(m[1]!)![0];
      pre.push({ command: m[1]!.slice(prefix.length), ignoreFailure: prefix.includes('-'), file });
    }
  }
  return pre;
}

const MARK = 'fleet-exec-start-pre-failed';

/** All of a start's ExecStartPre= commands as one shell script (one sandboxed command per start,
 * not one per line: each costs a sandbox), each in its own subshell as systemd runs each in its
 * own process; the first failure that counts ends the script with its status and a marker line. */
export function preStartScript(steps: readonly PreStart[]): string {
  return steps
    .map((s, i) => `( ${s.command}\n) || ${s.ignoreFailure ? ':' : `{ rc=$?; printf '\\n${MARK} ${i} %s\\n' "$rc" >&2; exit "$rc"; }`}`)
    .join('\n');
}

/** What the script's result says: undefined when the start may go on, else the failure as systemd
 * would log it. */
export function preStartFailure(steps: readonly PreStart[], r: { exitCode: number | null; signal: string | null; stderr: string }): string | undefined {
  if (r.exitCode === 0) return undefined;
  const m = new RegExp(`\\n?${MARK} (\\d+) (\\d+)\\n?$`).exec(r.stderr);
  const step = m ? steps[Number(m[1])] : undefined;
  const stderr = (m ? r.stderr.slice(0, m.index) : r.stderr).trim();
  const what = step ? `ExecStartPre=${step.command} (${step.file})` : 'ExecStartPre=';
  return `${what} failed with exit ${r.exitCode ?? r.signal}${stderr ? `: ${stderr}` : ''}`;
}
