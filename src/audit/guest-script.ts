// The one read-only command an audit runs on each guest, and reading what it printed. It dumps the
// files the checks need in the cron reader's format (base64 per file, so no content can fake a
// header), as root through `sudo -n` when allowed, else as the login user, saying why.
import { CRON_D, dumpScript, parseDump, SYSTEM_CRONTAB, USER_SPOOLS } from '../schedule/index.js';
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

/** What runs as root (or as the user when sudo refuses): values first, then the files. */
const BODY = [
  "printf '@fleet-value nodename %s\\n' \"$(uname -n)\"",
  // Every account's ~/.ssh/config: homes from /etc/passwd (root's included).
  `homes=$(cut -d: -f6 ${PASSWD} 2>/dev/null | sort -u | sed 's|$|/.ssh/config|')`,
  dumpScript(
    [HOSTNAME, ...MACHINE_IDS, PASSWD, GROUP, SHADOW, SUDOERS, `${SUDOERS_D}/*`, ...SSH_CONFIGS, '$homes',
      SYSTEM_CRONTAB, `${CRON_D}/*`, ...USER_SPOOLS.map((d) => `${d}/*`)],
    [SUDOERS_D, CRON_D, ...USER_SPOOLS],
  ),
].join('\n');

/** The guest command: `sudo -n` first; when sudo refuses, one line with its reason and the same body as the user. */
export const AUDIT_COMMAND = [
  `if why=$(sudo -n true 2>&1); then exec sudo -n -- /bin/sh -c ${shellQuote(BODY)}; fi`,
  `printf '@fleet-nosudo %s\\n' "$(printf '%s' "$why" | head -n 1)"`,
  `exec /bin/sh -c ${shellQuote(BODY)}`,
].join('\n');

/** Parses the audit command's output. Throws an InputError on output that is not its dump. */
export function parseAuditOutput(stdout: string, host = 'guest'): GuestFacts {
  let nodename = '';
  let sudoError: string | undefined;
  const rest: string[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith('@fleet-value nodename ')) nodename = line.slice(22).trim();
    else if (line.startsWith('@fleet-nosudo')) sudoError = line.slice(14).trim() || 'sudo -n refused';
    else rest.push(line);
  }
  const dump = parseDump(rest.join('\n'), host);
  return {
    files: new Map(dump.files.map((f) => [f.path, f.text])),
    unreadable: dump.unreadable,
    nodename,
    privileged: sudoError === undefined,
    ...(sudoError !== undefined ? { sudoError } : {}),
  };
}
