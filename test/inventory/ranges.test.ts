import { describe, expect, it } from 'vitest';
import { expandRanges, MAX_EXPANSION } from '../../src/inventory/index.js';
import { InputError } from '../../src/core/errors.js';

describe('expandRanges', () => {
  it('leaves names without brackets alone', () => {
    expect(expandRanges('web1.example.org')).toEqual(['web1.example.org']);
  });

  it('expands an IPv4 last-octet range', () => {
    const out = expandRanges('10.1.0.[1-250]');
    expect(out).toHaveLength(250);
    expect(out[0]).toBe('10.1.0.1');
    expect(out[249]).toBe('10.1.0.250');
  });

  it('keeps zero padding from the start', () => {
    expect(expandRanges('web[01-03].example.org')).toEqual([
      'web01.example.org',
      'web02.example.org',
      'web03.example.org',
    ]);
    expect(expandRanges('n[08-10]')).toEqual(['n08', 'n09', 'n10']);
    expect(expandRanges('n[001-002]')).toEqual(['n001', 'n002']);
    expect(expandRanges('n[0-2]')).toEqual(['n0', 'n1', 'n2']);
  });

  it('accepts Ansible colon ranges and strides', () => {
    expect(expandRanges('web[1:3]')).toEqual(['web1', 'web2', 'web3']);
    expect(expandRanges('web[1:9:4]')).toEqual(['web1', 'web5', 'web9']);
    expect(expandRanges('web[1-9/4]')).toEqual(['web1', 'web5', 'web9']);
  });

  it('accepts comma lists inside a bracket', () => {
    expect(expandRanges('127.77.0.[1-3,7,9-10]')).toEqual([
      '127.77.0.1', '127.77.0.2', '127.77.0.3', '127.77.0.7', '127.77.0.9', '127.77.0.10',
    ]);
  });

  it('expands letter ranges', () => {
    expect(expandRanges('db-[a-c]')).toEqual(['db-a', 'db-b', 'db-c']);
    expect(expandRanges('db-[A:B]')).toEqual(['db-A', 'db-B']);
  });

  it('takes the cartesian product of several ranges, leftmost outermost', () => {
    expect(expandRanges('r[1-2]n[a-b].x')).toEqual(['r1na.x', 'r1nb.x', 'r2na.x', 'r2nb.x']);
  });

  it.each([
    ['10.0.0.[5-1]', /start is after end/],
    ['web[1-3', /unterminated '\['/],
    ['web1-3]', /unbalanced '\]'/],
    ['web[]', /empty range/],
    ['web[1,,2]', /empty item/],
    ['web[1-x]', /expected N/],
    ['web[a-C]', /same case/],
    ['web[[1-2]]', /nested/],
    ['web[1:5:0]', /stride/],
  ])('rejects %s', (pattern, message) => {
    expect(() => expandRanges(pattern, { file: 'inv', line: 3 })).toThrow(message);
    try {
      expandRanges(pattern, { file: 'inv', line: 3 });
    } catch (err) {
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).file).toBe('inv');
      expect((err as InputError).line).toBe(3);
      expect((err as InputError).message).toMatch(/^inv:3: /);
    }
  });

  it('caps the expansion size', () => {
    expect(expandRanges('h[1-100000]')).toHaveLength(MAX_EXPANSION);
    expect(() => expandRanges('h[1-100001]')).toThrow(/more than 100000/);
    expect(() => expandRanges('h[1-1000]x[1-1000]')).toThrow(/more than 100000/);
    expect(() => expandRanges('h[1-99999999999]')).toThrow(/more than 100000/);
  });
});
