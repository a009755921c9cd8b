import { describe, expect, it } from 'vitest';
import { detectFormat, parseInventory, type Inventory } from '../../src/inventory/index.js';
import { InputError } from '../../src/core/errors.js';

const names = (inv: Inventory) => [...inv.hosts.keys()];
const members = (inv: Inventory, group: string) => [...(inv.groups.get(group) ?? [])];

function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error('expected an InputError');
}

describe('plain host lists', () => {
  const text = [
    '# the lab',
    '',
    '10.1.0.[1-3]',
    '  web01.example.org   ansible_user=admin  # trailing comment',
    'db1 ansible_host=10.2.0.1 ansible_port=2222 role="primary db"',
    '10.1.0.2 rack=r2',
  ].join('\n');

  it('is detected as plain', () => {
    expect(detectFormat(text)).toBe('plain');
  });

  it('lists hosts in file order, ranges expanded, duplicates merged', () => {
    const inv = parseInventory(text, 'hosts');
    expect(names(inv)).toEqual(['10.1.0.1', '10.1.0.2', '10.1.0.3', 'web01.example.org', 'db1']);
    expect(inv.hosts.get('10.1.0.2')!.vars).toEqual({ rack: 'r2' });
  });

  it('reads address, port and user from the ansible_* vars', () => {
    const inv = parseInventory(text, 'hosts');
    expect(inv.hosts.get('10.1.0.1')).toEqual({
      name: '10.1.0.1', address: '10.1.0.1', vars: {}, groups: ['all', 'ungrouped'],
    });
    expect(inv.hosts.get('web01.example.org')!.user).toBe('admin');
    const db = inv.hosts.get('db1')!;
    expect(db.address).toBe('10.2.0.1');
    expect(db.port).toBe(2222);
    expect(db.vars.role).toBe('primary db');
  });

  it('puts every host in all and ungrouped', () => {
    const inv = parseInventory(text, 'hosts');
    expect(members(inv, 'all')).toEqual(names(inv));
    expect(members(inv, 'ungrouped')).toEqual(names(inv));
    expect([...inv.groups.keys()]).toEqual(['all', 'ungrouped']);
  });

  it('handles CRLF line endings and a BOM', () => {
    const inv = parseInventory('\uFEFFa1\r\na2 x=1\r\n', 'hosts');
    expect(names(inv)).toEqual(['a1', 'a2']);
    expect(inv.hosts.get('a2')!.vars).toEqual({ x: '1' });
  });

  it('accepts host:port and keeps IPv6 addresses whole', () => {
    const inv = parseInventory('web1:2200\nfe80::1\n::1 ansible_port=23\n', 'hosts');
    expect(inv.hosts.get('web1')!.port).toBe(2200);
    expect(inv.hosts.get('fe80::1')!.port).toBeUndefined();
    expect(inv.hosts.get('::1')!.port).toBe(23);
  });

  it.each([
    ['web1 user', 1, /bad variable 'user'/],
    ['ok\nweb1 1x=2', 2, /bad variable name '1x'/],
    ['web1 a="open', 1, /unterminated " quote/],
    ['ok\n\n10.0.0.[9-1]', 3, /start is after end/],
    ['web[1-2', 1, /unterminated/],
    ['web1 ansible_port=99999', 1, /port for host 'web1' must be 1-65535/],
    ['web1:http', 1, /bad port/],
    ['we*b', 1, /invalid host name/],
  ])('rejects %j at line %d', (input, line, message) => {
    const err = inputError(() => parseInventory(input, 'hosts'));
    expect(err.message).toMatch(message);
    expect(err.file).toBe('hosts');
    expect(err.line).toBe(line);
  });
});

describe('Ansible INI inventories', () => {
  const text = `
ungrouped1 ansible_host=192.0.2.9

[web]
web[01-03].example.org
web04.example.org ansible_host=10.0.0.4 http_port=8080

[db]
db1 ansible_host=10.0.1.1 ansible_user=postgres
web01.example.org

[dc1:children]
web
db

[dc1:vars]
ntp = ntp1.dc1   ; comment
http_port=80

[web:vars]
http_port = "8000"
motd = hello world

[all:vars]
ansible_user=root
ntp=pool.ntp.org
`;

  it('is detected as INI', () => {
    expect(detectFormat(text)).toBe('ini');
  });

  it('collects hosts and groups in file order', () => {
    const inv = parseInventory(text, 'inv');
    expect(names(inv)).toEqual([
      'ungrouped1', 'web01.example.org', 'web02.example.org', 'web03.example.org', 'web04.example.org', 'db1',
    ]);
    expect([...inv.groups.keys()]).toEqual(['all', 'ungrouped', 'web', 'db', 'dc1']);
    expect(members(inv, 'ungrouped')).toEqual(['ungrouped1']);
    expect(members(inv, 'db')).toEqual(['web01.example.org', 'db1']);
    // Children's hosts count as the parent's, still in inventory order.
    expect(members(inv, 'dc1')).toEqual(names(inv).slice(1));
    expect([...inv.children.get('dc1')!]).toEqual(['web', 'db']);
    expect([...inv.children.get('all')!]).toEqual(['ungrouped', 'dc1']);
  });

  it('lists every group of a host, direct or inherited', () => {
    const inv = parseInventory(text, 'inv');
    expect(inv.hosts.get('web01.example.org')!.groups).toEqual(['all', 'web', 'db', 'dc1']);
    expect(inv.hosts.get('ungrouped1')!.groups).toEqual(['all', 'ungrouped']);
  });

  it('merges vars: host > child group > parent group > all', () => {
    const inv = parseInventory(text, 'inv');
    const web02 = inv.hosts.get('web02.example.org')!;
    expect(web02.vars).toEqual({ ansible_user: 'root', ntp: 'ntp1.dc1', http_port: '8000', motd: 'hello world' });
    expect(web02.user).toBe('root');
    expect(web02.address).toBe('web02.example.org');
    const web04 = inv.hosts.get('web04.example.org')!;
    expect(web04.vars.http_port).toBe('8080');
    expect(web04.address).toBe('10.0.0.4');
    expect(inv.hosts.get('db1')!.user).toBe('postgres');
    expect(inv.hosts.get('db1')!.vars.http_port).toBe('80');
    expect(inv.hosts.get('ungrouped1')!.vars).toEqual({ ansible_host: '192.0.2.9', ansible_user: 'root', ntp: 'pool.ntp.org' });
  });

  it('breaks ties between groups of the same depth by name, later name winning (as Ansible)', () => {
    const inv = parseInventory('[b]\nh\n[a]\nh\n[a:vars]\nx=a\n[b:vars]\nx=b\n', 'inv');
    expect(inv.hosts.get('h')!.vars.x).toBe('b');
  });

  it('uses the deepest path when a group is reachable at several depths', () => {
    const inv = parseInventory(
      '[leaf]\nh\n[mid:children]\nleaf\n[top:children]\nmid\n[z:children]\nleaf\n' +
        '[leaf:vars]\nx=leaf\n[mid:vars]\nx=mid\ny=mid\n[z:vars]\ny=z\n',
      'inv',
    );
    // leaf is depth 3 (top > mid > leaf), so it beats z (depth 1) and mid (depth 2).
    expect(inv.hosts.get('h')!.vars).toEqual({ x: 'leaf', y: 'mid' });
  });

  it('moves a host out of ungrouped once it is in a real group', () => {
    const inv = parseInventory('[ungrouped]\na\nb\n[g]\nb\n', 'inv');
    expect(members(inv, 'ungrouped')).toEqual(['a']);
    expect(members(inv, 'g')).toEqual(['b']);
  });

  it('accepts forward references, empty groups and ansible_ssh_* aliases', () => {
    const inv = parseInventory('[p:children]\nc\n[c]\n[x]\nh ansible_ssh_host=1.2.3.4 ansible_ssh_port=2200 ansible_ssh_user=u\n', 'inv');
    expect(members(inv, 'p')).toEqual([]);
    const h = inv.hosts.get('h')!;
    expect([h.address, h.port, h.user]).toEqual(['1.2.3.4', 2200, 'u']);
  });

  it('lets ansible_port on the line override host:port, and group ports apply', () => {
    const inv = parseInventory('[g]\na:2201 ansible_port=2202\nb\n[g:vars]\nansible_port=2022\n', 'inv');
    expect(inv.hosts.get('a')!.port).toBe(2202);
    expect(inv.hosts.get('b')!.port).toBe(2022);
  });

  it.each([
    ['[g]\nh\n[p:children]\nnope\n', 4, /\[p:children\] names undefined group 'nope'/],
    ['[a:children]\nb\n[b:children]\na\n', 4, /cycle in group children: a -> b -> a/],
    ['[a:children]\na\n', 2, /cycle in group children: a -> a/],
    ['[a:children]\nall\n', 2, /cannot contain 'all'/],
    ['[g]\nh\n[g:hosts]\n', 3, /unknown section suffix ':hosts'/],
    ['[g]\nh\n[bad group]\n', 3, /malformed section header/],
    ['[g]\nh\n[nogroup:vars]\nx=1\n', 3, /never defined/],
    ['[g]\nh\n[g:vars]\njust words\n', 4, /bad variable/],
    ['[g]\nh\n[g:vars]\n9x=1\n', 4, /bad variable name '9x'/],
    ['[g]\nh\n[p:children]\ng extra\n', 4, /bad child group/],
    ['[g]\nweb[3-1]\n', 2, /start is after end/],
    ['[g]\nweb[1-3\n', 2, /unterminated/],
    ['[g]\nh ansible_port=0\n', 2, /must be 1-65535/],
    ['[g]\nh\n[g:vars]\nansible_port=ssh\n', 4, /must be 1-65535, got 'ssh'/],
  ])('rejects %j at line %d', (input, line, message) => {
    const err = inputError(() => parseInventory(input, 'inv'));
    expect(err.message).toMatch(message);
    expect(err.message.startsWith(`inv:${line}: `)).toBe(true);
    expect(err.line).toBe(line);
  });
});

describe('a host declared twice', () => {
  it('may be listed in several groups and add vars, with the same address and port', () => {
    const inv = parseInventory('[a]\nh ansible_host=10.0.0.1 ansible_port=2222\n[b]\nh ansible_host=10.0.0.1 role=db\n[c]\nh:2222\nh\n', 'inv');
    expect(inv.hosts.get('h')).toMatchObject({ address: '10.0.0.1', port: 2222, vars: { role: 'db' }, groups: ['all', 'a', 'b', 'c'] });
    expect(parseInventory('10.0.0.1:2222\n10.0.0.1:2222 rack=r1\n', 'hosts').hosts.get('10.0.0.1')!.port).toBe(2222);
  });

  it.each([
    ['[a]\nh ansible_host=10.0.0.1\n[b]\nh ansible_host=10.0.0.2\n', 4, 2, /ansible_host=10\.0\.0\.2, but inv:2 gives it ansible_host=10\.0\.0\.1/],
    ['[a]\nh ansible_host=10.0.0.1\n[b]\nh ansible_ssh_host=10.0.0.2\n', 4, 2, /ansible_ssh_host=10\.0\.0\.2, but inv:2 gives it ansible_host=10\.0\.0\.1/],
    ['[a]\nh:2201\n[b]\nh\nh ansible_port=2202\n', 5, 2, /ansible_port=2202, but inv:2 gives it ansible_port=2201/],
    ['10.0.0.1:22\n# moved\n10.0.0.1:2222\n', 3, 1, /host '10\.0\.0\.1' is declared again with ansible_port=2222, but inv:1/],
    ['[g]\nweb[1-3] ansible_port=2222\nweb2 ansible_port=22\n', 3, 2, /host 'web2'/],
  ])('rejects %j, naming both lines', (input, line, first, message) => {
    const err = inputError(() => parseInventory(input, 'inv'));
    expect(err.message).toMatch(message);
    expect(err.message.startsWith(`inv:${line}: `)).toBe(true);
    expect(err.message).toContain(`inv:${first} `);
    expect(err.line).toBe(line);
  });
});
