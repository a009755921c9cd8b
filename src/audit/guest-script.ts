// The one read-only command an audit runs on each guest, and reading what it printed. It dumps the
// files the checks need with shell builtins only (every content line behind a `|`, so no content can
// fake a header, and no process per file: in a sandbox, processes are what costs), as root through
// one `sudo -n` when allowed, else as the login user, saying why.
import { InputError } from '../core/index.js';
import { CRON_D, SYSTEM_CRONTAB, USER_SPOOLS } from '../schedule/index.js';
import { shellQuote } from '../executor/index.js';
import type { GuestFacts } from './model.js';

export const SHADOW = '/etc/shadow';
export const PASSWD = '/etc/passwd';
export const GROUP = '/etc/group';
export const SUDOERS = '/etc/sudoers';
export const SUDOERS_D = '/etc/sudoers.d';
export const HOSTNAME = '/etc/hostname';
export const MACHINE_IDS = ['/etc/machine-id', '/var/lib/dbus/machine-id'] as const;
export const SSH_CONFIGS = ['/etc/ssh/ssh_config', '/etc/ssh/ssh_config.d/*'] as const;

/** What runs as root (or as the user when sudo refuses): the node name, then the files. */
const BODY = [
  '{ read -r n < /proc/sys/kernel/hostname; } 2>/dev/null || n=$(uname -n)',
  "printf '@fleet-value nodename %s\\n' \"$n\"",
  // Every account's ~/.ssh/config: homes from /etc/passwd (root's included).
  'homes=',
  `while IFS=: read -r _ _ _ _ _ h _; do homes="$homes $h/.ssh/config"; done < ${PASSWD}`,
  `for f in ${[HOSTNAME, ...MACHINE_IDS, PASSWD, GROUP, SHADOW, SUDOERS, `${SUDOERS_D}/*`, ...SSH_CONFIGS,
    SYSTEM_CRONTAB, `${CRON_D}/*`, ...USER_SPOOLS.map((d) => `${d}/*`)].join(' ')} $homes; do`,
  '  [ -f "$f" ] || continue',
  '  if [ -r "$f" ]; then',
  "    printf '@fleet-file %s\\n' \"$f\"",
  "    while IFS= read -r l || [ -n \"$l\" ]; do printf '|%s\\n' \"$l\"; done < \"$f\"",
  '    echo @fleet-end',
  "  else printf '@fleet-unreadable %s\\n' \"$f\"; fi",
  'done',
  `for d in ${[SUDOERS_D, CRON_D, ...USER_SPOOLS].join(' ')}; do`,
  "  if [ -d \"$d\" ] && ! [ -r \"$d\" -a -x \"$d\" ]; then printf '@fleet-unreadable %s\\n' \"$d\"; fi",
  'done',
  'exit 0',
].join('\n');

/**
 * The guest command: one `sudo -n` (its output held until it succeeded); when sudo refuses, one line
 * with its reason and the same body as the login user.
 */
export const AUDIT_COMMAND = [
  `if out=$(sudo -n -- /bin/sh -c ${shellQuote(BODY)} 2>/dev/null); then printf '%s\\n' "$out"; exit 0; fi`,
  `why=$(sudo -n true 2>&1)`,
  `printf '@fleet-nosudo %s\\n' "$(printf '%s' "\${why:-sudo -n failed}" | head -n 1)"`,
  `exec /bin/sh -c ${shellQuote(BODY)}`,
].join('\n');

/** Parses the audit command's output. Throws an InputError on output that is not its dump. */
export function parseAuditOutput(stdout: string, host = 'guest'): GuestFacts {
  const facts: GuestFacts = { files: new Map(), unreadable: [], nodename: '', privileged: true };
  let current: { path: string; lines: string[] } | undefined;
  for (const line of stdout.split('\n')) {
    if (current) {
      if (line === '@fleet-end') {
        facts.files.set(current.path, current.lines.map((l) => `${l}\n`).join(''));
        current = undefined;
      } else if (line.startsWith('|')) {
        current.lines.push(line.slice(1));
      } else {
        throw new InputError(`${host}: unexpected output inside ${current.path}: "${line.slice(0, 80)}"`);
      }
    } else if (line.startsWith('@fleet-file ')) {
      current = { path: line.slice(12), lines: [] };
    } else if (line.startsWith('@fleet-unreadable ')) {
      facts.unreadable.push(line.slice(18));
    } else if (line.startsWith('@fleet-value nodename ')) {
      facts.nodename = line.slice(22).trim();
    } else if (line.startsWith('@fleet-nosudo')) {
      facts.privileged = false;
      facts.sudoError = line.slice(14).trim() || 'sudo -n refused';
    } else if (line.trim() !== '') {
      throw new InputError(`${host}: unexpected output from the audit command: "${line.slice(0, 80)}"`);
    }
  }
  if (current) throw new InputError(`${host}: the audit output ended inside ${current.path}`);
  return facts;
}
