// One guest's edits: blocks in /etc/crontab or /etc/cron.d, run-crons replacement, moving between
// places, idempotence, foreign lines untouched, and malformed files refused with file and line.
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import {
  checkEdits, guestEdits, normalizeJob, planJob, readPrevious, slotGeometry, validateCrontab, type CronJob, type GuestSlot,
} from '../../src/schedule/index.js';
import { prng, randInt, randomFleet } from './fleet.js';

const SLES = `SHELL=/bin/sh
PATH=/usr/bin:/usr/sbin:/sbin:/bin:/usr/lib/news/bin
MAILTO=root
#
# check scripts in cron.hourly, cron.daily, cron.weekly, and cron.monthly
#
-*/15 * * * *   root  test -x /usr/lib/cron/run-crons && /usr/lib/cron/run-crons >/dev/null 2>&1
`;
const WINDOW = { kind: 'window' as const, window: '23:00-06:00', slotMinutes: 12, cap: 15 };
const job = (over: Partial<CronJob> = {}) =>
  normalizeJob({ job: 'nightly', timing: WINDOW, action: { kind: 'command', command: 'run-parts /etc/cron.daily' }, ...over });
const slot: GuestSlot = { host: 'g1', address: '10.0.0.1', slot: 3, start: '23:36', cron: '36 23 * * *' };
const files = (entries: Record<string, string>) => new Map(Object.entries(entries));
/** Applies edits to a file map, as apply would write them. */
const applied = (f: Map<string, string>, edits: ReturnType<typeof guestEdits>['edits']) => {
  const out = new Map(f);
  for (const e of edits) out.set(e.path, e.after);
  return out;
};

describe('guestEdits', () => {
  it('appends the stamped block to /etc/crontab and nothing else', () => {
    const { edits } = guestEdits(job(), files({ '/etc/crontab': SLES }), slot);
    expect(edits).toEqual([{
      path: '/etc/crontab',
      before: SLES,
      after: `${SLES}# BEGIN fleet:nightly\n# fleet:slot index=3 start=23:36 window=23:00-06:00 minutes=12\n` +
        '36 23 * * * root run-parts /etc/cron.daily\n# END fleet:nightly\n',
      changed: true,
    }]);
  });

  it('is idempotent, and reads back the slot it wrote', () => {
    const once = applied(files({ '/etc/crontab': SLES }), guestEdits(job(), files({ '/etc/crontab': SLES }), slot).edits);
    expect(guestEdits(job(), once, slot).edits.every((e) => !e.changed)).toBe(true);
    expect(readPrevious(job(), once, slotGeometry('23:00-06:00', 12))).toEqual({ slot: 3, cron: '36 23 * * *' });
    expect(readPrevious(job(), files({ '/etc/crontab': SLES }), undefined)).toBeUndefined();
  });

  it('creates /etc/cron.d/fleet-<job> and removes the block left in /etc/crontab (and back)', () => {
    const inCrontab = applied(files({ '/etc/crontab': SLES }), guestEdits(job(), files({ '/etc/crontab': SLES }), slot).edits);
    const { edits } = guestEdits(job({ place: 'cron.d' }), inCrontab, slot);
    expect(edits.map((e) => [e.path, e.before === undefined, e.changed])).toEqual([
      ['/etc/cron.d/fleet-nightly', true, true],
      ['/etc/crontab', false, true],
    ]);
    expect(edits[1]!.after).toBe(SLES);
    const inCronD = applied(inCrontab, edits);
    // The slot is found in either place, so moving does not replan the guest.
    expect(readPrevious(job(), inCronD, slotGeometry('23:00-06:00', 12))?.slot).toBe(3);
    const back = guestEdits(job(), inCronD, slot).edits;
    expect(back.map((e) => [e.path, e.changed])).toEqual([['/etc/crontab', true], ['/etc/cron.d/fleet-nightly', true]]);
    expect(back[1]!.after).toBe('');
  });

  it('replaces run-crons with direct calls at the slot, stamped, idempotently', () => {
    const rc = job({ job: 'run-crons', action: { kind: 'run-crons', scripts: ['hourly', 'daily', 'weekly'] } });
    const { edits, note } = guestEdits(rc, files({ '/etc/crontab': SLES }), { ...slot, hourlyMinute: 7 });
    expect(note).toBeUndefined();
    expect(edits[0]!.after).toContain('# disabled by fleet:run-crons: -*/15 * * * *');
    expect(edits[0]!.after).toContain(
      '# BEGIN fleet:run-crons\n# fleet:slot index=3 start=23:36 window=23:00-06:00 minutes=12\n' +
        '7 * * * * root run-parts /etc/cron.hourly\n' +
        '36 23 * * * root run-parts /etc/cron.daily; test $(date +\\%u) -eq 7 && run-parts /etc/cron.weekly\n# END fleet:run-crons\n',
    );
    const after = applied(files({ '/etc/crontab': SLES }), edits);
    expect(guestEdits(rc, after, { ...slot, hourlyMinute: 7 }).edits[0]!.changed).toBe(false);
    expect(readPrevious(rc, after, slotGeometry('23:00-06:00', 12))?.slot).toBe(3);
    const none = guestEdits(rc, files({ '/etc/crontab': 'MAILTO=root\n' }), slot);
    expect(none.edits[0]!.changed).toBe(false);
    expect(none.note).toMatch(/no run-crons entry in \/etc\/crontab/);
  });

  it('leaves random foreign lines and other jobs byte for byte', () => {
    const rand = prng(5);
    const pool = ['', '# c', '\t# tab', 'X = "1"', '*/5 * * * * root a  b', '@reboot root z\t', '# BEGIN fleet:other\n1 2 * * * root o\n# END fleet:other'];
    for (let i = 0; i < 200; i++) {
      const text = Array.from({ length: randInt(rand, 0, 8) }, () => pool[randInt(rand, 0, pool.length - 1)]!).join('\n') + (rand() < 0.5 ? '\n' : '');
      const e = guestEdits(job(), files({ '/etc/crontab': text }), slot).edits[0]!;
      const base = text === '' || text.endsWith('\n') ? text : `${text}\n`;
      expect(e.after.startsWith(base)).toBe(true);
      expect(validateCrontab(e.after, { systemFormat: true }).errors).toEqual([]);
      checkEdits([e]);
    }
  });

  it('refuses malformed files with file and line, before anything could be written', () => {
    const bad = (text: string, path = '/etc/crontab') => () => guestEdits(job(), files({ [path]: text }), slot);
    expect(bad(`${SLES}30 4 * * mon-fri root ok\n0 0 * * 8x root nope\n`)).toThrow(InputError);
    expect(bad(`${SLES}0 0 * * 8x root nope\n`)).toThrow(/^\/etc\/crontab:8: day of week field "8x" is not cron syntax$/);
    expect(bad('# BEGIN fleet:nightly\n')).toThrow(/^\/etc\/crontab:1: BEGIN fleet:nightly has no END$/);
    expect(bad('# ok\n# BEGIN fleet:nightly\n0 0 * * * root a\n', '/etc/cron.d/fleet-nightly')).toThrow(/^\/etc\/cron.d\/fleet-nightly:2: BEGIN/);
  });

  it('refuses to put the block under a CRON_TZ, and accepts it once the CRON_TZ line is below', () => {
    const zoned = `${SLES}CRON_TZ=Asia/Tokyo\n0 5 * * * root tokyo-job\n`;
    expect(() => guestEdits(job(), files({ '/etc/crontab': zoned }), slot)).toThrow(InputError);
    expect(() => guestEdits(job(), files({ '/etc/crontab': zoned }), slot)).toThrow(/^\/etc\/crontab:\d+: CRON_TZ=Asia\/Tokyo is in effect at the fleet:nightly block/);
    // A block already in place, with the CRON_TZ after it, is fine: the block keeps the guest's zone.
    const placed = applied(files({ '/etc/crontab': SLES }), guestEdits(job(), files({ '/etc/crontab': SLES }), slot).edits).get('/etc/crontab')!;
    const below = `${placed}CRON_TZ=Asia/Tokyo\n0 5 * * * root tokyo-job\n`;
    const { edits } = guestEdits(job(), files({ '/etc/crontab': below }), { ...slot, slot: 4, start: '23:48', cron: '48 23 * * *' });
    expect(edits[0]!.after).toContain('48 23 * * * root run-parts /etc/cron.daily\n# END fleet:nightly\nCRON_TZ=Asia/Tokyo\n');
    // With --cron-d the job has a file of its own, out of the crontab's CRON_TZ.
    expect(guestEdits(job({ place: 'cron.d' }), files({ '/etc/crontab': zoned }), slot).edits[0]!.path).toBe('/etc/cron.d/fleet-nightly');
  });
});

describe('a plan round-trips through guests', () => {
  it('re-planning from what 300 guests carry changes nothing', () => {
    const fleet = randomFleet(prng(9), 300);
    const j = job();
    const plan = planJob(j, fleet);
    const guests = new Map(plan.guests.map((g) => [g.host, applied(files({ '/etc/crontab': SLES }), guestEdits(j, files({ '/etc/crontab': SLES }), g).edits)]));
    const geo = slotGeometry('23:00-06:00', 12);
    const previous = new Map(fleet.map((g) => [g.host, readPrevious(j, guests.get(g.host)!, geo)!]));
    expect(planJob(j, fleet, { previous })).toMatchObject({ known: 300, changed: 0 });
  });
});
