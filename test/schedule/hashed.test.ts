// Jenkins-style H fields: forms, ranges, determinism, spread, errors, and the frozen hash.
import { describe, expect, it } from 'vitest';
import { CronExpressionParser } from 'cron-parser';
import { InputError } from '../../src/core/errors.js';
import { expandHashed, seedKeyFor } from '../../src/schedule/index.js';
import { prng, randomAddress } from './fleet.js';

const values = (line: string, field: 'minute' | 'hour' | 'dayOfMonth' | 'month' | 'dayOfWeek') =>
  CronExpressionParser.parse(line).fields[field].values.map(Number);

describe('expandHashed', () => {
  const key = seedKeyFor('10.1.0.7', 'nightly');

  it('keeps its frozen values across versions', () => {
    expect(expandHashed('H H * * *', key)).toBe('50 15 * * *');
    expect(expandHashed('H/15 * * * *', key)).toBe('5-59/15 * * * *');
    expect(expandHashed('@weekly', key)).toBe('50 15 * * 2');
  });

  it('passes plain fields through and expands every form', () => {
    const rand = prng(21);
    for (let i = 0; i < 300; i++) {
      const k = seedKeyFor(randomAddress(rand), 'job');
      const line = expandHashed('H(0-29)/10 H(1-5) H * mon-fri', k);
      const [minute, hour, dom, month, dow] = line.split(' ');
      expect(month).toBe('*');
      expect(dow).toBe('mon-fri');
      const mins = values(line, 'minute');
      expect(mins).toHaveLength(3);
      expect(mins[0]!).toBeLessThan(10);
      expect(mins.every((m) => m <= 29)).toBe(true);
      expect(minute).toMatch(/^\d+-29\/10$/);
      expect(Number(hour)).toBeGreaterThanOrEqual(1);
      expect(Number(hour)).toBeLessThanOrEqual(5);
      // Day of month stays in 1-28 so every month has it.
      expect(Number(dom)).toBeGreaterThanOrEqual(1);
      expect(Number(dom)).toBeLessThanOrEqual(28);
    }
  });

  it('is deterministic per key and spreads keys over the range', () => {
    const rand = prng(22);
    const seen = new Map<number, number>();
    for (let i = 0; i < 2400; i++) {
      const k = seedKeyFor(randomAddress(rand), 'job');
      const line = expandHashed('H * * * *', k);
      expect(expandHashed('H * * * *', k)).toBe(line);
      const m = Number(line.split(' ')[0]);
      seen.set(m, (seen.get(m) ?? 0) + 1);
    }
    expect(seen.size).toBe(60);
    // 40 expected per minute; a fair hash stays well inside 15-70.
    expect(Math.min(...seen.values())).toBeGreaterThan(15);
    expect(Math.max(...seen.values())).toBeLessThan(70);
  });

  it('gives different jobs on one guest different times', () => {
    const a = expandHashed('H H * * *', seedKeyFor('10.0.0.1', 'logrotate'));
    const b = expandHashed('H H * * *', seedKeyFor('10.0.0.1', 'updatedb'));
    expect(a).not.toBe(b);
  });

  it('maps Jenkins nicknames to H forms', () => {
    expect(expandHashed('@hourly', key)).toMatch(/^\d+ \* \* \* \*$/);
    expect(expandHashed('@monthly', key)).toMatch(/^\d+ \d+ \d+ \* \*$/);
    expect(expandHashed('@yearly', key)).toMatch(/^\d+ \d+ \d+ \d+ \*$/);
  });

  it.each([
    ['H(23-5) * * * *', /wraps/],
    ['H(1-5)/10 * * * *', /wider than the range 1-5/],
    ['H/0 * * * *', /at least 1/],
    ['H(0-60) * * * *', /outside 0-59/],
    ['H * * *', /4 fields/],
    ['Hx * * * *', /is not H/],
    ['0 0 L * *', /not cron syntax/],
    ['61 * * * *', /expected range 0-59/],
    ['@reboot', /no hashed form/],
  ])('rejects %s with the spec in the message', (spec, why) => {
    const attempt = () => expandHashed(spec, key, { file: 'jobs.yaml', line: 4 });
    expect(attempt).toThrow(InputError);
    expect(attempt).toThrow(why);
    expect(attempt).toThrow(`jobs.yaml:4: cron spec "${spec}"`);
  });
});
