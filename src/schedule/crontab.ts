// Crontab text as lines: comments, variables and entries, validated with file:line for every problem.
import { InputError } from '../core/errors.js';
import { checkSchedule } from './cronsyntax.js';

export interface CrontabEntry {
  /** 1-based line number. */
  line: number;
  /** Five fields joined by one space, or the nickname as written (e.g. "@daily"). */
  schedule: string;
  /** Five-field equivalent for expansion; null for @reboot. */
  fields: string | null;
  /** Present in system format (/etc/crontab, /etc/cron.d). */
  user?: string;
  /** A leading "-" (ISC cron, SUSE's /etc/crontab): run without syslog logging. */
  noLog?: boolean;
  command: string;
  /** The CRON_TZ in effect at this entry (an IANA zone): cron reads its schedule in that zone. */
  tz?: string;
}

export type CrontabLine =
  | { kind: 'blank' | 'comment' }
  | { kind: 'variable'; name: string; value: string }
  | ({ kind: 'entry' } & Omit<CrontabEntry, 'line'>);

export interface CrontabFormat {
  /** /etc/crontab and /etc/cron.d carry a user field between the schedule and the command. */
  systemFormat: boolean;
}

export interface CrontabReport {
  entries: CrontabEntry[];
  variables: Record<string, string>;
  errors: InputError[];
}

const VARIABLE = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/;
const USER = /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/;

/** Classifies one line; returns an error message instead of throwing so callers can add file:line. */
export function parseCrontabLine(text: string, format: CrontabFormat): CrontabLine | { error: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { kind: 'blank' };
  if (trimmed.startsWith('#')) return { kind: 'comment' };
  const variable = VARIABLE.exec(text);
  if (variable) return { kind: 'variable', name: variable[1]!, value: unquote(variable[2]!.trim()) };

  // SUSE's /etc/crontab writes its run-crons line as "-*/15 * * * * root ...".
  const noLog = trimmed.startsWith('-');
  const body = noLog ? trimmed.slice(1) : trimmed;
  const words = body.split(/\s+/);
  const scheduleWords = words[0]!.startsWith('@') ? 1 : 5;
  if (words.length <= scheduleWords) return { error: `"${trimmed}" is neither a comment, a variable nor a cron entry` };
  const schedule = words.slice(0, scheduleWords).join(' ');
  const checked = checkSchedule(schedule);
  if ('error' in checked) return { error: checked.error };

  // The command keeps its own spacing: cron hands it to the shell verbatim.
  let rest = body;
  for (let i = 0; i < scheduleWords; i++) rest = rest.replace(/^\S+\s+/, '');
  let user: string | undefined;
  if (format.systemFormat) {
    user = rest.split(/\s+/, 1)[0]!;
    if (!USER.test(user)) {
      return { error: `"${user}" is not a user name (system crontabs name a user after the schedule)` };
    }
    rest = rest.slice(user.length).trimStart();
    if (rest === '') return { error: `entry "${trimmed}" has a user but no command` };
  }
  return {
    kind: 'entry',
    schedule,
    fields: checked.fields,
    ...(user === undefined ? {} : { user }),
    ...(noLog ? { noLog } : {}),
    command: rest,
  };
}

/** Parses every line; collects one InputError per bad line rather than stopping at the first. */
export function validateCrontab(text: string, opts: CrontabFormat & { file?: string }): CrontabReport {
  const report: CrontabReport = { entries: [], variables: {}, errors: [] };
  // cronie reads each entry's schedule in the CRON_TZ set above it (none: the system's zone).
  let tz: string | undefined;
  splitLines(text).forEach((lineText, i) => {
    const parsed = parseCrontabLine(lineText, opts);
    if ('error' in parsed) {
      report.errors.push(new InputError(parsed.error, { file: opts.file, line: i + 1 }));
    } else if (parsed.kind === 'variable') {
      report.variables[parsed.name] = parsed.value;
      if (parsed.name !== 'CRON_TZ') return;
      if (parsed.value !== '' && !isTimeZone(parsed.value)) {
        report.errors.push(new InputError(`CRON_TZ=${parsed.value}: unknown time zone (expected an IANA name such as Europe/Berlin)`, { file: opts.file, line: i + 1 }));
      }
      tz = parsed.value === '' ? undefined : parsed.value;
    } else if (parsed.kind === 'entry') {
      const { kind: _kind, ...entry } = parsed;
      report.entries.push({ line: i + 1, ...entry, ...(tz ? { tz } : {}) });
    }
  });
  return report;
}

/** Whether `name` is a time zone this machine knows (IANA names, as cron's tzdata). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** Lines of a text file; a final newline does not start another line. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function unquote(value: string): string {
  const m = /^(["'])(.*)\1$/.exec(value);
  return m ? m[2]! : value;
}
