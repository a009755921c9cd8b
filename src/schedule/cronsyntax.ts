// Crontab schedule syntax as cron itself reads it, checked with cron-parser for ranges and meaning.
//
// cron-parser accepts more than cron does (H, L, W, #, ?, seconds, @minutely); a crontab carrying
// those would be rejected or misread by cron on the guest, so a strict lexical check runs first.
import { CronExpressionParser } from 'cron-parser';

/** The nicknames Vixie cron and cronie accept, as five fields; @reboot has no times at all. */
export const NICKNAMES: Readonly<Record<string, string | null>> = {
  '@reboot': null,
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const FIELD_NAMES = ['minute', 'hour', 'day of month', 'month', 'day of week'] as const;
const NUMERIC = /^(?:\*|\d+(?:-\d+)?)(?:\/\d+)?$/;
const NAMED = /^(?:\*|(?:\d+|[a-z]{3})(?:-(?:\d+|[a-z]{3}))?)(?:\/\d+)?$/i;

/**
 * Checks a schedule: five fields or a nickname. Returns the five-field form to expand (null for
 * @reboot), or an error message saying what is wrong.
 */
export function checkSchedule(schedule: string): { fields: string | null } | { error: string } {
  const text = schedule.trim();
  if (text.startsWith('@')) {
    const nick = text.toLowerCase();
    if (!(nick in NICKNAMES)) {
      return { error: `unknown schedule "${text}" (cron knows ${Object.keys(NICKNAMES).join(', ')})` };
    }
    return { fields: NICKNAMES[nick]! };
  }
  const fields = text.split(/\s+/);
  if (fields.length !== 5) return { error: `schedule "${text}" has ${fields.length} fields, cron needs 5` };
  for (let i = 0; i < 5; i++) {
    // Names (jan, mon) only make sense in the month and day-of-week fields.
    const term = i >= 3 ? NAMED : NUMERIC;
    for (const part of fields[i]!.split(',')) {
      if (!term.test(part)) return { error: `${FIELD_NAMES[i]} field "${fields[i]}" is not cron syntax` };
    }
  }
  try {
    CronExpressionParser.parse(fields.join(' '));
  } catch (err) {
    return { error: `schedule "${text}": ${(err as Error).message}` };
  }
  return { fields: fields.join(' ') };
}
