// Declarations -> Inventory: checks group references and cycles, resolves membership and var precedence.
import { InputError } from '../core/errors.js';
import type { Declarations, Host, Inventory, VarDef } from './model.js';

type At = (line: number, file?: string) => { file: string; line?: number };

/** Resolve what the parser declared into the final model; every inconsistency names its line. */
export function buildInventory(decl: Declarations): Inventory {
  const at: At = (line, file) => ({ file: file ?? decl.file, line: line || undefined });
  checkReferences(decl, at);
  const children = childGroups(decl);
  checkCycles(decl, at);
  const depth = groupDepths(decl, children);
  const members = groupMembers(decl, children);

  const groupsOf = new Map<string, string[]>([...decl.hosts.keys()].map((h) => [h, []]));
  for (const [group, hosts] of members) for (const h of hosts) groupsOf.get(h)!.push(group);

  const hosts = new Map<string, Host>();
  const origins: Inventory['origins'] = new Map();
  for (const h of decl.hosts.values()) {
    const groups = groupsOf.get(h.name)!;
    // Ansible's order: shallower groups first, ties by name; deeper (child) groups and the host win.
    const byPrecedence = [...groups].sort((a, b) => depth.get(a)! - depth.get(b)! || (a < b ? -1 : a > b ? 1 : 0));
    // Ansible's layers, lowest first: the inventory's group vars, group_vars/ files, the inventory's
    // host vars, host_vars/ files; within each group layer, by depth as above.
    const vars = new Map<string, VarDef>();
    const put = (defs: Map<string, VarDef> | undefined, file?: string) => {
      for (const [k, v] of defs ?? []) vars.set(k, v.file || !file ? v : { ...v, file });
    };
    for (const g of byPrecedence) put(decl.groups.get(g)!.vars, decl.groups.get(g)!.file);
    for (const g of byPrecedence) put(decl.groupFileVars.get(g));
    put(h.vars);
    put(decl.hostFileVars.get(h.name));
    hosts.set(h.name, toHost(h.name, vars, groups, at));
    origins.set(h.name, Object.fromEntries([...vars].map(([k, v]) => [k, at(v.line, v.file)])));
  }
  return { hosts, groups: members, children, origins };
}

function toHost(name: string, vars: Map<string, VarDef>, groups: string[], at: At): Host {
  const pick = (...keys: string[]) => keys.map((k) => vars.get(k)).find((v) => v !== undefined);
  const address = pick('ansible_host', 'ansible_ssh_host');
  const user = pick('ansible_user', 'ansible_ssh_user');
  const portDef = pick('ansible_port', 'ansible_ssh_port');
  const host: Host = { name, address: address?.value || name, vars: {}, groups };
  if (portDef) {
    const port = Number(portDef.value);
    if (!/^\d+$/.test(portDef.value) || port < 1 || port > 65535) {
      throw new InputError(`port for host '${name}' must be 1-65535, got '${portDef.value}'`, at(portDef.line, portDef.file));
    }
    host.port = port;
  }
  if (user?.value) host.user = user.value;
  for (const [k, v] of vars) host.vars[k] = v.value;
  return host;
}

function checkReferences(decl: Declarations, at: At): void {
  for (const g of decl.groups.values()) {
    if (!g.defined) throw new InputError(`[${g.name}:vars] is for group '${g.name}', which is never defined`, at(g.line, g.file));
    for (const c of g.children) {
      if (c.name === 'all') throw new InputError(`[${g.name}:children] cannot contain 'all'`, at(c.line, c.file));
      if (!decl.groups.get(c.name)?.defined) {
        throw new InputError(`[${g.name}:children] names undefined group '${c.name}'`, at(c.line, c.file));
      }
    }
  }
}

function checkCycles(decl: Declarations, at: At): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (name: string): void => {
    state.set(name, 'visiting');
    path.push(name);
    for (const c of decl.groups.get(name)!.children) {
      if (state.get(c.name) === 'visiting') {
        const cycle = [...path.slice(path.indexOf(c.name)), c.name].join(' -> ');
        throw new InputError(`cycle in group children: ${cycle}`, at(c.line, c.file));
      }
      if (!state.has(c.name)) visit(c.name);
    }
    path.pop();
    state.set(name, 'done');
  };
  for (const name of decl.groups.keys()) if (!state.has(name)) visit(name);
}

/** Declared children, plus `all` as the parent of every group that has none (as Ansible models it). */
function childGroups(decl: Declarations): Map<string, Set<string>> {
  const children = new Map<string, Set<string>>();
  const hasParent = new Set<string>();
  for (const g of decl.groups.values()) {
    children.set(g.name, new Set(g.children.map((c) => c.name)));
    for (const c of g.children) hasParent.add(c.name);
  }
  for (const name of decl.groups.keys()) {
    if (name !== 'all' && !hasParent.has(name)) children.get('all')!.add(name);
  }
  return children;
}

function groupDepths(decl: Declarations, children: Map<string, Set<string>>): Map<string, number> {
  const depth = new Map<string, number>([['all', 0]]);
  // Longest path from `all`: the graph is acyclic, so relaxing in rounds settles within |groups| rounds.
  for (let changed = true; changed; ) {
    changed = false;
    for (const [parent, kids] of children) {
      const d = depth.get(parent);
      if (d === undefined) continue;
      for (const k of kids) {
        if ((depth.get(k) ?? -1) < d + 1) {
          depth.set(k, d + 1);
          changed = true;
        }
      }
    }
  }
  for (const name of decl.groups.keys()) if (!depth.has(name)) depth.set(name, 1);
  return depth;
}

/** Each group's hosts including its children's, in host order; `ungrouped` as Ansible reconciles it. */
function groupMembers(decl: Declarations, children: Map<string, Set<string>>): Map<string, Set<string>> {
  const direct = new Map<string, Set<string>>();
  const inSomeGroup = new Set<string>();
  for (const g of decl.groups.values()) {
    direct.set(g.name, g.hosts);
    if (g.name !== 'all' && g.name !== 'ungrouped') for (const h of g.hosts) inSomeGroup.add(h);
  }
  direct.set('ungrouped', new Set([...decl.hosts.keys()].filter((h) => !inSomeGroup.has(h))));
  direct.set('all', new Set(decl.hosts.keys()));

  const memo = new Map<string, Set<string>>();
  const collect = (name: string): Set<string> => {
    let set = memo.get(name);
    if (set) return set;
    set = new Set(direct.get(name));
    for (const c of children.get(name)!) for (const h of collect(c)) set.add(h);
    memo.set(name, set);
    return set;
  };
  const order = [...decl.hosts.keys()];
  const result = new Map<string, Set<string>>();
  for (const name of decl.groups.keys()) {
    const set = collect(name);
    result.set(name, new Set(order.filter((h) => set.has(h))));
  }
  return result;
}
