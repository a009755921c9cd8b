// Managed blocks: byte-for-byte preservation, idempotence, malformed input, and recovering slots.
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import {
  applyManagedBlock,
  planSlots,
  previousSlot,
  readManagedBlock,
  slotGeometry,
  slotLines,
} from '../../src/schedule/index.js';
import { prng, randInt, randomFleet } from './fleet.js';

const BASE = `SHELL=/bin/sh\t
# keep   this spacing\r
17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly

@reboot   root   /usr/local/sbin/fixup   `;

const LINES = ['# fleet:slot index=3 start=23:36 window=23:00-06:00 minutes=12', '36 23 * * * root run-parts /etc/cron.daily'];

describe('applyManagedBlock', () => {
  it('appends a block and leaves every other byte alone', () => {
    const { text, changed } = applyManagedBlock(BASE, 'nightly', LINES, { file: '/etc/crontab' });
    expect(changed).toBe(true);
    // The original lacked a final newline, so exactly one is added before the block.
    expect(text).toBe(`${BASE}\n# BEGIN fleet:nightly\n${LINES.join('\n')}\n# END fleet:nightly\n`);
  });

  it('is idempotent and reports no change the second time', () => {
    const once = applyManagedBlock(BASE, 'nightly', LINES).text;
    const twice = applyManagedBlock(once, 'nightly', LINES);
    expect(twice).toEqual({ text: once, changed: false });
  });

  it('replaces the block in place and removes it when given no lines', () => {
    const before = `# head\n# BEGIN fleet:nightly\n0 1 * * * root old\n# END fleet:nightly\n# tail  \n`;
    const replaced = applyManagedBlock(before, 'nightly', LINES).text;
    expect(replaced).toBe(`# head\n# BEGIN fleet:nightly\n${LINES.join('\n')}\n# END fleet:nightly\n# tail  \n`);
    expect(applyManagedBlock(replaced, 'nightly', []).text).toBe('# head\n# tail  \n');
    expect(applyManagedBlock('# only\n', 'nightly', [])).toEqual({ text: '# only\n', changed: false });
  });

  it("keeps other jobs' blocks and random surrounding text intact", () => {
    const rand = prng(31);
    const pool = ['', '# c', '  # indented', 'X=1', '*/5 * * * * root a  b', '@daily root z\t', '0 0 1 1 * nobody y'];
    for (let i = 0; i < 100; i++) {
      const other = ['# BEGIN fleet:other', '1 2 * * * root o', '# END fleet:other'];
      const lines = Array.from({ length: randInt(rand, 0, 8) }, () => pool[randInt(rand, 0, pool.length - 1)]!);
      lines.splice(randInt(rand, 0, lines.length), 0, ...other);
      const text = lines.join('\n') + (rand() < 0.5 ? '\n' : '');
      const applied = applyManagedBlock(text, 'nightly', LINES).text;
      expect(applied.startsWith(text)).toBe(true);
      const removed = applyManagedBlock(applied, 'nightly', []).text;
      expect(removed).toBe(text.endsWith('\n') || text === '' ? text : `${text}\n`);
    }
  });

  it.each([
    ['# BEGIN fleet:nightly\n0 1 * * * root a\n', 1, /has no END/],
    ['# END fleet:nightly\n', 1, /without a BEGIN/],
    ['# BEGIN fleet:a\n# BEGIN fleet:b\n# END fleet:b\n# END fleet:a\n', 2, /inside the block fleet:a/],
    ['# BEGIN fleet:a\n# END fleet:b\n', 2, /closes the block fleet:a/],
    ['# BEGIN fleet:nightly\n# END fleet:nightly\n# BEGIN fleet:nightly\n# END fleet:nightly\n', 3, /second block/],
    ['# ok\n0 0 * * * /bin/true\n', 2, /not a user name/],
    ['MAILTO=root\nnot a cron line\n', 2, /neither a comment/],
  ])('rejects malformed input with file and line (%#)', (text, line, why) => {
    let error: unknown;
    try {
      applyManagedBlock(text, 'nightly', LINES, { file: 'g1:/etc/crontab' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).line).toBe(line);
    expect((error as InputError).file).toBe('g1:/etc/crontab');
    expect((error as InputError).message).toMatch(why);
  });

  it('rejects new lines that are not valid entries, or that smuggle markers', () => {
    expect(() => applyManagedBlock('# x\n', 'nightly', ['0 0 * * * /no/user'])).toThrow(/new block for nightly: .*not a user name/);
    expect(() => applyManagedBlock('# x\n', 'nightly', ['# END fleet:nightly'])).toThrow(/fleet marker/);
    expect(() => applyManagedBlock('# x\n', 'nightly', ['0 0 * * * root a\nb'])).toThrow(/newline/);
    expect(applyManagedBlock('', 'u', ['5 4 * * * /bin/me'], { systemFormat: false }).text).toBe(
      '# BEGIN fleet:u\n5 4 * * * /bin/me\n# END fleet:u\n',
    );
  });
});

describe('readManagedBlock', () => {
  it('returns the lines, markers and stamped slot', () => {
    const text = applyManagedBlock(BASE, 'nightly', LINES).text;
    const block = readManagedBlock(text, 'nightly')!;
    expect(block.lines).toEqual(LINES);
    expect(block.begin).toBe(6);
    expect(block.end).toBe(9);
    expect(block.slot).toEqual({ index: 3, start: '23:36', window: '23:00-06:00', slotMinutes: 12 });
    expect(readManagedBlock(text, 'other')).toBeUndefined();
  });

  it('falls back to the entry time for unstamped blocks, and maps it onto a new geometry', () => {
    const text = '# BEGIN fleet:nightly\n24 23 * * * root run-parts /etc/cron.daily\n# END fleet:nightly\n';
    const block = readManagedBlock(text, 'nightly');
    expect(block?.slot).toEqual({ start: '23:24' });
    expect(previousSlot(block, slotGeometry('23:00-06:00', 12))).toBe(2);
    expect(previousSlot(block, slotGeometry('23:00-06:00', 10))).toBeUndefined();
    expect(previousSlot(undefined, slotGeometry('23:00-06:00', 12))).toBeUndefined();
  });

  it('round-trips a plan through guests so the next plan changes nothing', () => {
    const opts = { job: 'nightly', window: '23:00-06:00', slotMinutes: 12, cap: 15 };
    const geo = slotGeometry(opts.window, opts.slotMinutes);
    const fleet = randomFleet(prng(32), 200);
    const plan = planSlots(fleet, opts);
    const crontabs = new Map(
      plan.assignments.map((a) => [
        a.host,
        applyManagedBlock('MAILTO=root\n', 'nightly', slotLines(a, { ...opts, command: 'run-parts /etc/cron.daily' })).text,
      ]),
    );
    const previous = new Map(fleet.map((g) => [g.host, previousSlot(readManagedBlock(crontabs.get(g.host)!, 'nightly'), geo)!]));
    expect(planSlots(fleet, { ...opts, previous }).changed).toBe(0);
  });
});
