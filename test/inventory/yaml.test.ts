import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectFormat, loadInventory, parseInventory, select } from '../../src/inventory/index.js';
import { fleet } from '../cli/cli-harness.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-yaml-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const YAML = `# the same fleet as INI below
all:
  vars:
    ansible_user: admin
    motd: from-all
  children:
    web:
      hosts:
        web[01:03].example.org:
        web04.example.org:2222:
      vars:
        motd: from-web
      children:
        canary:
          hosts:
            web01.example.org:
              motd: from-host
    db:
      hosts:
        db1:
          ansible_host: 10.0.0.5
          ansible_port: 2200
          backup:
            when: nightly
  hosts:
    loner:
`;

const INI = `loner
[web]
web[01:03].example.org
web04.example.org:2222
[web:vars]
motd=from-web
[canary]
web01.example.org motd=from-host
[web:children]
canary
[db]
db1 ansible_host=10.0.0.5 ansible_port=2200
[all:vars]
ansible_user=admin
motd=from-all
`;

const names = (hosts: { name: string }[]) => hosts.map((h) => h.name).sort();

describe('YAML inventories', () => {
  it('is detected by content or by extension', () => {
    expect(detectFormat(YAML)).toBe('yaml');
    expect(detectFormat('---\nall: {}\n')).toBe('yaml');
    expect(detectFormat('{"all": {}}', 'inv.json')).toBe('yaml');
    expect(detectFormat('web1:2222\n')).toBe('plain');
    expect(detectFormat(INI)).toBe('ini');
  });

  it('reads hosts, ranges, ports, groups and vars with Ansible precedence', () => {
    const inv = parseInventory(YAML, 'inv.yml');
    expect(names([...inv.hosts.values()])).toEqual(['db1', 'loner', 'web01.example.org', 'web02.example.org', 'web03.example.org', 'web04.example.org']);
    const web01 = inv.hosts.get('web01.example.org')!;
    expect(web01.user).toBe('admin');
    expect(web01.vars.motd).toBe('from-host');
    expect(inv.hosts.get('web02.example.org')!.vars.motd).toBe('from-web');
    expect(inv.hosts.get('web04.example.org')!.port).toBe(2222);
    const db1 = inv.hosts.get('db1')!;
    expect([db1.address, db1.port, db1.vars.motd]).toEqual(['10.0.0.5', 2200, 'from-all']);
    // A var fleet does not use is kept, a structure as its JSON text.
    expect(db1.vars.backup).toBe('{"when":"nightly"}');
    expect(inv.origins.get('db1')!.ansible_port).toEqual({ file: 'inv.yml', line: 22 });
  });

  it('selects exactly as the same inventory written as INI', () => {
    const y = parseInventory(YAML, 'inv.yml');
    const i = parseInventory(INI, 'hosts');
    for (const pattern of ['all', 'web', 'canary', 'web:!canary', 'web:&canary', 'ungrouped', 'db,loner', 'web0[2:3]*', '~web0[14]']) {
      expect(names(select(y, pattern)), pattern).toEqual(names(select(i, pattern)));
    }
    for (const h of i.hosts.values()) {
      const yh = y.hosts.get(h.name)!;
      expect({ ...yh, vars: { ...yh.vars, backup: undefined } }, h.name).toEqual({ ...h, vars: { ...h.vars, backup: undefined } });
    }
  });

  it('reports malformed YAML and misplaced keys as file:line:column, exit 2', async () => {
    const bad = join(dir, 'bad.yml');
    await writeFile(bad, 'all:\n  hosts:\n    web1:\n      ansible_port: [1\n');
    const r = await fleet('inventory', '-i', bad);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^fleet: ${bad}:\\d+:\\d+: malformed YAML`));
    const list = join(dir, 'list.yml');
    await writeFile(list, 'all:\n  hosts:\n    - web1\n');
    const l = await fleet('inventory', '-i', list);
    expect(l.code).toBe(2);
    expect(l.err).toBe(`fleet: ${list}:3:5: hosts of group 'all' must be a mapping of host names (\`web1:\`), not a list\n`);
    const key = join(dir, 'key.yml');
    await writeFile(key, 'all:\n  children:\n    web:\n      host:\n        web1:\n');
    const k = await fleet('inventory', '-i', key);
    expect(k.err).toBe(`fleet: ${key}:4:7: group 'web': unknown key 'host' (expected hosts, vars or children)\n`);
  });
});

describe('group_vars/ and host_vars/', () => {
  it('layers all < parent < child < inventory host vars < host_vars, group_vars over the inventory\'s group vars', async () => {
    const d = join(dir, 'layers');
    await mkdir(join(d, 'group_vars', 'web'), { recursive: true });
    await mkdir(join(d, 'host_vars'), { recursive: true });
    await writeFile(join(d, 'hosts.yml'), YAML);
    await writeFile(join(d, 'group_vars', 'all.yml'), 'motd: gv-all\nansible_user: ops\nlevel: all\n');
    await writeFile(join(d, 'group_vars', 'web', '10-main.yml'), 'level: web\nansible_port: 2022\n');
    await writeFile(join(d, 'group_vars', 'web', '20-more'), 'extra: yes\n');
    await writeFile(join(d, 'group_vars', 'canary'), '---\nlevel: canary\n');
    await writeFile(join(d, 'host_vars', 'web01.example.org.yaml'), 'level: host\n');
    await writeFile(join(d, 'host_vars', 'db1.json'), '{"ansible_user": "dba"}');
    const inv = await loadInventory(join(d, 'hosts.yml'));
    const get = (h: string) => inv.hosts.get(h)!;
    expect(get('web02.example.org').vars.level).toBe('web');
    expect(get('web01.example.org').vars.level).toBe('host');
    expect(get('loner').vars.level).toBe('all');
    // group_vars/all beats the inventory's all vars; the inventory's host vars beat group_vars.
    expect(get('web02.example.org').vars.motd).toBe('gv-all');
    expect(get('web01.example.org').vars.motd).toBe('from-host');
    expect(get('web02.example.org').user).toBe('ops');
    expect(get('db1').user).toBe('dba');
    expect(get('web03.example.org').port).toBe(2022);
    expect(get('web03.example.org').vars.extra).toBe('true');
    expect(inv.origins.get('db1')!.ansible_user).toEqual({ file: join(d, 'host_vars', 'db1.json'), line: 1 });
  });

  it('names the vars file and position of malformed YAML', async () => {
    const d = join(dir, 'badvars');
    await mkdir(join(d, 'group_vars'), { recursive: true });
    await writeFile(join(d, 'hosts'), '[web]\nweb1\n');
    await writeFile(join(d, 'group_vars', 'web.yml'), 'a: 1\nb: "open\n');
    const r = await fleet('inventory', '-i', d);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^fleet: ${join(d, 'group_vars', 'web.yml')}:\\d+:\\d+: malformed YAML: Missing closing`));
  });
});

describe('inventory directories', () => {
  it('merges every inventory file (INI and YAML), later files adding groups and vars', async () => {
    const d = join(dir, 'merged');
    await mkdir(d);
    await writeFile(join(d, 'hosts'), '[web]\nweb1 ansible_host=10.0.0.1\n');
    await writeFile(join(d, 'prod.yml'), 'all:\n  children:\n    web:\n      hosts:\n        web2:\n      vars:\n        tier: front\n    db:\n      hosts:\n        db1:\n');
    const inv = await loadInventory(d);
    expect([...inv.hosts.keys()]).toEqual(['web1', 'web2', 'db1']);
    expect(names(select(inv, 'web'))).toEqual(['web1', 'web2']);
    expect(inv.hosts.get('web1')!.vars.tier).toBe('front');
    expect(inv.origins.get('web1')!.tier).toEqual({ file: join(d, 'prod.yml'), line: 7 });
  });
});
