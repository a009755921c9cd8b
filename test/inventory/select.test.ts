import { describe, expect, it } from 'vitest';
import { parseInventory, select } from '../../src/inventory/index.js';
import { InputError } from '../../src/core/errors.js';

const inv = parseInventory(
  `
lonely

[web]
web[01-04].example.org

[db]
db1 ansible_host=10.0.1.1
db2 ansible_host=10.0.1.2
web01.example.org

[dc1]
web01.example.org
web02.example.org
db1

[dc2]
web03.example.org
web04.example.org
db2

[prod:children]
web
db

[v6]
fe80::10
`,
  'inv',
);

const pick = (pattern: string) => select(inv, pattern).map((h) => h.name);

describe('select', () => {
  it('all and * give every host in inventory order', () => {
    const everyone = [...inv.hosts.keys()];
    expect(pick('all')).toEqual(everyone);
    expect(pick('*')).toEqual(everyone);
  });

  it('selects groups (children included) and hosts', () => {
    expect(pick('db')).toEqual(['web01.example.org', 'db1', 'db2']);
    expect(pick('prod')).toEqual(['web01.example.org', 'web02.example.org', 'web03.example.org', 'web04.example.org', 'db1', 'db2']);
    expect(pick('db2')).toEqual(['db2']);
    expect(pick('ungrouped')).toEqual(['lonely']);
  });

  it('selects a host by its address too', () => {
    expect(pick('10.0.1.2')).toEqual(['db2']);
  });

  it('unions with , or : and keeps inventory order without duplicates', () => {
    expect(pick('db2,web01.example.org')).toEqual(['web01.example.org', 'db2']);
    expect(pick('dc1:db')).toEqual(['web01.example.org', 'web02.example.org', 'db1', 'db2']);
    expect(pick(' db1 , db1 ')).toEqual(['db1']);
  });

  it('excludes with ! and intersects with &, whatever the order written', () => {
    expect(pick('web:!dc1')).toEqual(['web03.example.org', 'web04.example.org']);
    expect(pick('!dc1:web')).toEqual(['web03.example.org', 'web04.example.org']);
    expect(pick('web:&dc1')).toEqual(['web01.example.org', 'web02.example.org']);
    expect(pick('prod:&dc2:!db')).toEqual(['web03.example.org', 'web04.example.org']);
    expect(pick('web,&dc2,!web04.example.org')).toEqual(['web03.example.org']);
  });

  it('starts from all when only exclusions or intersections are given', () => {
    expect(pick('!prod')).toEqual(['lonely', 'fe80::10']);
    expect(pick('&dc2')).toEqual(['web03.example.org', 'web04.example.org', 'db2']);
  });

  it('matches globs against group names, host names and addresses', () => {
    expect(pick('web0*')).toEqual(['web01.example.org', 'web02.example.org', 'web03.example.org', 'web04.example.org']);
    expect(pick('dc?')).toEqual(pick('dc1:dc2'));
    expect(pick('10.0.1.*')).toEqual(['db1', 'db2']);
    expect(pick('*.example.org:!web0[2-4]*')).toEqual(['web01.example.org']);
  });

  it('expands bracket ranges, both syntaxes', () => {
    expect(pick('web[02-03].example.org')).toEqual(['web02.example.org', 'web03.example.org']);
    expect(pick('db[1:2]')).toEqual(['db1', 'db2']);
    expect(pick('10.0.1.[1-2]:!db1')).toEqual(['db2']);
  });

  it('supports ~regex anchored at the start', () => {
    expect(pick('~db\\d')).toEqual(['db1', 'db2']);
    expect(pick('~web0[34]')).toEqual(['web03.example.org', 'web04.example.org']);
  });

  it('keeps an IPv6 address whole instead of splitting on its colons', () => {
    expect(pick('fe80::10')).toEqual(['fe80::10']);
    expect(pick('all,!fe80::10,!lonely')).toHaveLength(6);
  });

  it.each([
    ['nope', "no host or group matches 'nope'"],
    ['web:!nope', "no host or group matches 'nope'"],
    ['web:&nope', "no host or group matches 'nope'"],
    ['zz*', "no host or group matches 'zz*'"],
    ['db[1-3]', "no host or group matches 'db3'"],
    ['~^x', "no host or group matches '~^x'"],
    ['web:!', "empty term after '!' or '&'"],
    ['', 'empty host pattern'],
    [' , ', 'empty host pattern'],
    ['db[3-1]', 'start is after end'],
    ['~(', 'bad regular expression'],
  ])('rejects %j', (pattern, message) => {
    expect(() => select(inv, pattern)).toThrow(InputError);
    expect(() => select(inv, pattern)).toThrow(message);
  });
});
