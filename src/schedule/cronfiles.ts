// The cron files of one guest: which paths cron reads, the shell script that dumps them all in one
// session, and turning that dump into validated entries with host, file and line for every problem.
//
// One exec per guest instead of one SFTP read per file: the dump is a header line per file
// ("@fleet-file PATH") followed by its bytes in base64 (so no content can fake a header) and an
// end line. Only sh, cat-like redirection and base64 (coreutils) are needed on the guest.
import { InputError } from '../core/errors.js';
import { validateCrontab } from './crontab.js';
import type { StartEntry } from './starts.js';

/** Where cron reads schedules: the system crontab, drop-ins, and per-user spools (SUSE, Debian). */
export const SYSTEM_CRONTAB = '/etc/crontab';
export const CRON_D = '/etc/cron.d';
export const USER_SPOOLS = ['/var/spool/cron/tabs', '/var/spool/cron/crontabs'] as const;

export interface CronFile {
  path: string;
  text: string;
}

export interface CronDump {
  files: CronFile[];
  /** Paths that exist but could not be read (typically the spools without sudo). */
  unreadable: string[];
}

/** A problem in a guest's cron files, located for the person who must fix it. */
export interface CronProblem {
  host: string;
  file: string;
  line?: number;
  message: string;
}

export function describeProblem(p: CronProblem): string {
  return `${p.host}: ${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`;
}

/**
 * A read-only script dumping the given files (globs allowed, unquoted) and flagging unreadable
 * `dirs`; exits 0 when files are missing, 3 when one cannot be encoded.
 */
export function dumpScript(paths: readonly string[], dirs: readonly string[] = []): string {
  return [
    `for f in ${paths.join(' ')}; do`,
    '  [ -f "$f" ] || continue',
    '  if [ -r "$f" ]; then printf \'@fleet-file %s\\n\' "$f"; base64 < "$f" || exit 3; echo @fleet-end;',
    '  else printf \'@fleet-unreadable %s\\n\' "$f"; fi',
    'done',
    ...(dirs.length === 0 ? [] : [
      `for d in ${dirs.join(' ')}; do`,
      '  if [ -d "$d" ] && ! [ -r "$d" -a -x "$d" ]; then printf \'@fleet-unreadable %s\\n\' "$d"; fi',
      'done',
    ]),
    'exit 0',
  ].join('\n');
}

/** Every cron file of a guest: the system crontab, the drop-ins and the user spools. */
export const DUMP_SCRIPT = dumpScript(
  [SYSTEM_CRONTAB, `${CRON_D}/*`, ...USER_SPOOLS.map((d) => `${d}/*`)],
  [CRON_D, ...USER_SPOOLS],
);

/** Parses the dump script's output. Throws on output that is not a dump (a broken guest shell). */
export function parseDump(stdout: string, host = 'guest'): CronDump {
  const dump: CronDump = { files: [], unreadable: [] };
  let current: { path: string; chunks: string[] } | undefined;
  for (const line of stdout.split('\n')) {
    if (current) {
      if (line === '@fleet-end') {
        dump.files.push({ path: current.path, text: Buffer.from(current.chunks.join(''), 'base64').toString('utf8') });
        current = undefined;
      } else {
        current.chunks.push(line.trim());
      }
    } else if (line.startsWith('@fleet-file ')) {
      current = { path: line.slice(12), chunks: [] };
    } else if (line.startsWith('@fleet-unreadable ')) {
      dump.unreadable.push(line.slice(18));
    } else if (line.trim() !== '') {
      throw new InputError(`${host}: unexpected output while reading cron files: "${line.slice(0, 80)}"`);
    }
  }
  if (current) throw new InputError(`${host}: cron file dump ended inside ${current.path}`);
  return dump;
}

/** /etc/crontab and /etc/cron.d name a user on each line; spool files belong to the user they are named after. */
export function isSystemFormat(path: string): boolean {
  return !USER_SPOOLS.some((d) => path.startsWith(`${d}/`));
}

/**
 * Files cron skips in /etc/cron.d and the spools (cronie's rules: hidden files, editor and package
 * manager leftovers). Debian's cron also skips names with a dot; those are read, as cronie does.
 */
export function cronIgnores(path: string): boolean {
  if (path === SYSTEM_CRONTAB) return false;
  const name = path.slice(path.lastIndexOf('/') + 1);
  return name.startsWith('.') || name.endsWith('~') || /\.(rpmsave|rpmorig|rpmnew|swp|dpkg-(old|dist|new|tmp))$/.test(name) ||
    name.startsWith('#');
}

/** Every schedule entry in a guest's cron files, and one problem per line cron would not accept. */
export function cronEntries(host: string, files: readonly CronFile[]): { entries: StartEntry[]; problems: CronProblem[] } {
  const entries: StartEntry[] = [];
  const problems: CronProblem[] = [];
  for (const f of files) {
    if (cronIgnores(f.path)) continue;
    const report = validateCrontab(f.text, { systemFormat: isSystemFormat(f.path), file: f.path });
    for (const e of report.errors) problems.push({ host, file: f.path, line: e.line, message: stripWhere(e) });
    for (const e of report.entries) {
      entries.push({ host, file: f.path, line: e.line, schedule: e.schedule, command: e.command, ...(e.tz ? { tz: e.tz } : {}) });
    }
  }
  return { entries, problems };
}

/** An InputError's message without its "file:line: " prefix (the problem carries those itself). */
export function stripWhere(e: InputError): string {
  const at = e.file ? `${e.file}${e.line ? `:${e.line}` : ''}: ` : '';
  return at && e.message.startsWith(at) ? e.message.slice(at.length) : e.message;
}
