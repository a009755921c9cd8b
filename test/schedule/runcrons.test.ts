// run-crons replacement: SLES's storm line becomes direct run-parts calls at the guest's slot.
import { describe, expect, it } from 'vitest';
import { readManagedBlock, replaceRunCrons, validateCrontab } from '../../src/schedule/index.js';

const SLES = `SHELL=/bin/sh
PATH=/usr/bin:/usr/sbin:/sbin:/bin:/usr/lib/news/bin
MAILTO=root
#
# check scripts in cron.hourly, cron.daily, cron.weekly, and cron.monthly
#
-*/15 * * * *   root  test -x /usr/lib/cron/run-crons && /usr/lib/cron/run-crons >/dev/null 2>&1
`;

describe('replaceRunCrons', () => {
  it('disables the run-crons line and calls the chosen scripts at the slot', () => {
    const out = replaceRunCrons(SLES, { slotCron: '12 23 * * *', scripts: ['daily', 'weekly', 'monthly'], file: '/etc/crontab' });
    expect(out.disabled).toEqual([7]);
    expect(out.changed).toBe(true);
    const head = SLES.split('\n').slice(0, 6).join('\n');
    expect(out.text).toBe(
      `${head}\n` +
        '# disabled by fleet:run-crons: -*/15 * * * *   root  test -x /usr/lib/cron/run-crons && /usr/lib/cron/run-crons >/dev/null 2>&1\n' +
        '# BEGIN fleet:run-crons\n' +
        '12 23 * * * root run-parts /etc/cron.daily; test $(date +\\%u) -eq 7 && run-parts /etc/cron.weekly; ' +
        'test $(date +\\%d) -eq 1 && run-parts /etc/cron.monthly\n' +
        '# END fleet:run-crons\n',
    );
    const report = validateCrontab(out.text, { systemFormat: true });
    expect(report.errors).toEqual([]);
    expect(report.entries.some((e) => e.command.includes('run-crons'))).toBe(false);
  });

  it('is idempotent and moves to a new slot by rewriting only its block', () => {
    const opts = { slotCron: '12 23 * * *', scripts: ['hourly', 'daily'] as const };
    const once = replaceRunCrons(SLES, { ...opts, scripts: [...opts.scripts] }).text;
    expect(replaceRunCrons(once, { ...opts, scripts: [...opts.scripts] })).toEqual({ text: once, changed: false, disabled: [] });
    const moved = replaceRunCrons(once, { slotCron: '24 23 * * *', scripts: ['hourly', 'daily'], hourlyMinute: 41 });
    expect(moved.changed).toBe(true);
    expect(readManagedBlock(moved.text, 'run-crons')!.lines).toEqual([
      '41 * * * * root run-parts /etc/cron.hourly',
      '24 23 * * * root run-parts /etc/cron.daily',
    ]);
    expect(moved.text.split('\n').slice(0, 7)).toEqual(once.split('\n').slice(0, 7));
  });

  it('leaves a crontab without run-crons alone', () => {
    const text = 'MAILTO=root\n25 6 * * * root run-parts /etc/cron.daily\n';
    expect(replaceRunCrons(text, { slotCron: '0 1 * * *', scripts: ['daily'] })).toEqual({ text, changed: false, disabled: [] });
  });

  it('rejects a slot that is not a daily time, and unknown periods', () => {
    expect(() => replaceRunCrons(SLES, { slotCron: '*/5 * * * *', scripts: ['daily'] })).toThrow(/not a daily time/);
    expect(() => replaceRunCrons(SLES, { slotCron: '0 1 * * *', scripts: [] })).toThrow(/scripts must be/);
    expect(() => replaceRunCrons(SLES, { slotCron: '0 1 * * *', scripts: ['yearly' as 'daily'] })).toThrow(/scripts must be/);
  });
});
