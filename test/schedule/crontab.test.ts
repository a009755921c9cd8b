// Crontab validation: entries, variables, nicknames, system vs user format, file:line errors.
import { describe, expect, it } from 'vitest';
import { validateCrontab } from '../../src/schedule/index.js';

const SLES = `SHELL=/bin/sh
PATH=/usr/bin:/usr/sbin:/sbin:/bin:/usr/lib/news/bin
MAILTO=root
#
# check scripts in cron.hourly, cron.daily, cron.weekly, and cron.monthly
#
-*/15 * * * *   root  test -x /usr/lib/cron/run-crons && /usr/lib/cron/run-crons >/dev/null 2>&1
`;

describe('validateCrontab', () => {
  it("reads SLES's /etc/crontab, including the no-log dash", () => {
    const report = validateCrontab(SLES, { file: '/etc/crontab', systemFormat: true });
    expect(report.errors).toEqual([]);
    expect(report.variables).toEqual({ SHELL: '/bin/sh', PATH: '/usr/bin:/usr/sbin:/sbin:/bin:/usr/lib/news/bin', MAILTO: 'root' });
    expect(report.entries).toEqual([
      {
        line: 7,
        schedule: '*/15 * * * *',
        fields: '*/15 * * * *',
        user: 'root',
        noLog: true,
        command: 'test -x /usr/lib/cron/run-crons && /usr/lib/cron/run-crons >/dev/null 2>&1',
      },
    ]);
  });

  it('handles nicknames, names, lists, steps and quoted variables', () => {
    const text = [
      'MAILTO="ops@example.org"',
      '@reboot root /usr/local/bin/warm-cache',
      '@daily root run-parts /etc/cron.daily',
      '@midnight root true',
      '5 4 * jan,jul mon-fri root /bin/report',
      '0-30/10 1,2 1-15 * 7 nobody echo "a  b"',
    ].join('\n');
    const report = validateCrontab(text, { systemFormat: true });
    expect(report.errors).toEqual([]);
    expect(report.variables.MAILTO).toBe('ops@example.org');
    expect(report.entries.map((e) => e.fields)).toEqual([null, '0 0 * * *', '0 0 * * *', '5 4 * jan,jul mon-fri', '0-30/10 1,2 1-15 * 7']);
    expect(report.entries[4]!.command).toBe('echo "a  b"');
  });

  it('reads user crontabs without a user field', () => {
    const report = validateCrontab('*/5 * * * * /usr/bin/check --all\n', { systemFormat: false });
    expect(report.entries[0]).toMatchObject({ command: '/usr/bin/check --all' });
    expect(report.entries[0]!.user).toBeUndefined();
  });

  it('reports every bad line with file and line', () => {
    const text = [
      '# fine',
      'H * * * * root x', // cron has no H
      '0 0 L * * root x', // nor L
      '0 0 0 * * * root x', // six fields: "*" is taken as the user, "root x" as the command
      '0 24 * * * root x',
      '@minutely root x',
      '0 0 * * * /bin/true', // system format needs a user
      '0 0 * * * root',
      'just words here',
      '0 0 31 2 * root x',
    ].join('\n');
    const report = validateCrontab(text, { file: '/etc/crontab', systemFormat: true });
    const lines = report.errors.map((e) => e.line);
    expect(lines).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(report.errors[0]!.message).toMatch(/^\/etc\/crontab:2: minute field "H" is not cron syntax/);
    expect(report.errors[3]!.message).toMatch(/expected range 0-23/);
    expect(report.errors[5]!.message).toMatch(/"\/bin\/true" is not a user name/);
    expect(report.errors[7]!.message).toMatch(/neither a comment, a variable nor a cron entry|not cron syntax/);
  });

  it('tags entries with the CRON_TZ above them, and names an unknown zone with its line', () => {
    const text = '0 1 * * * root a\nCRON_TZ="Asia/Tokyo"\n0 2 * * * root b\nCRON_TZ=Mars/Olympus\n0 3 * * * root c\n';
    const r = validateCrontab(text, { systemFormat: true, file: '/etc/crontab' });
    expect(r.entries.map((e) => [e.command, e.tz])).toEqual([['a', undefined], ['b', 'Asia/Tokyo'], ['c', 'Mars/Olympus']]);
    expect(r.errors.map((e) => e.message)).toEqual(['/etc/crontab:4: CRON_TZ=Mars/Olympus: unknown time zone (expected an IANA name such as Europe/Berlin)']);
  });
});
