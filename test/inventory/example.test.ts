// The example inventory shipped in inventory/ parses, and its header's selections say what they do.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { foldHosts, loadInventory, select } from '../../src/inventory/index.js';

const EXAMPLE = fileURLToPath(new URL('../../inventory', import.meta.url));

describe('the example inventory', () => {
  it('holds 240 guests in the groups its header names', async () => {
    const inv = await loadInventory(EXAMPLE);
    const fold = (pattern: string) => foldHosts(select(inv, pattern).map((h) => h.name));
    expect(select(inv, 'all')).toHaveLength(240);
    expect(fold('web:&dc1')).toBe('web[001-120].dc1.example.org');
    expect(fold('all:!db')).toBe('10.20.0.[1-50],10.21.0.[1-20],web[001-120].dc1.example.org,web[121-160].dc2.example.org');
    expect(fold('db')).toBe('db[01-06].dc1.example.org,db[07-10].dc2.example.org');
    const db07 = select(inv, 'db07.dc2.example.org')[0]!;
    expect(db07).toMatchObject({ port: 2222, user: 'fleetadm' });
  });
});
