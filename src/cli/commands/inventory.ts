// `fleet inventory [sel]`: the expansion of a selection, folded, with each connection setting and
// where it came from (command line, FLEET_* variable, inventory, ssh_config or default); --json: every
// host with its resolved connection (address, port, user, identity, jump chain) and those origins.
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { UsageError } from '../../core/index.js';
import { foldHosts, loadInventory, select } from '../../inventory/index.js';
import type { ResolvedTarget, ValueSource } from '../../ssh/index.js';
import { expandFailed } from '../rerun.js';
import { loadSshConfig, resolveTargets, type SelectionFlags } from '../selection.js';

/** `flag --user`, `env FLEET_USER`, `inventory hosts:12 (ansible_user)`, `ssh_config ~/.ssh/config:4`, `default`. */
function describe(s: ValueSource | undefined): string | undefined {
  if (!s) return undefined;
  switch (s.from) {
    case 'flag':
      return `flag ${s.flag}`;
    case 'env':
      return `env ${s.variable}`;
    case 'inventory':
      return `inventory ${s.file}${s.line ? `:${s.line}` : ''} (${s.var})`;
    case 'ssh_config':
      return `ssh_config ${s.file}:${s.line}`;
    default:
      return 'default';
  }
}

export async function inventory(selection: string | undefined, f: SelectionFlags & { json?: boolean }): Promise<void> {
  if (selection && f.limit) throw new UsageError('give the selection either as an argument or with --limit, not both');
  const inv = await loadInventory(f.inventory);
  const hosts = select(inv, expandFailed(selection ?? f.limit ?? 'all', f.inventory));
  const invDir = existsSync(f.inventory) && statSync(f.inventory).isDirectory() ? f.inventory : dirname(f.inventory);
  const targets = hosts.length ? resolveTargets(inv, hosts, f, f.knownHosts ?? join(invDir, 'known_hosts')) : [];
  const sshConfig = loadSshConfig(f).file || 'none';
  const given = (key: string) => describe(f.optionSources?.[key]) ?? 'default';
  const session = { inventory: given('inventory'), sshConfig: given('sshConfig') };
  if (!f.json) {
    process.stdout.write(`${foldHosts(hosts.map((h) => h.name))} (${hosts.length} hosts)\n`);
    if (targets.length) process.stdout.write(settings(targets, [['inventory', f.inventory, session.inventory], ['ssh_config', sshConfig, session.sshConfig]]));
    return;
  }
  hosts.forEach((h, i) => {
    const { sources, ...t } = targets[i]!;
    const from: Record<string, string | undefined> = { ...Object.fromEntries(Object.entries(sources).map(([k, s]) => [k, describe(s)])), ...session };
    if (!t.identityFiles) from.identityFiles = 'default';
    const row = { ...t, inventory: f.inventory, sshConfig, groups: h.groups, vars: h.vars, from };
    process.stdout.write(`${JSON.stringify(row)}\n`);
  });
}

/** The settings a command would connect with, one line each, or one per value where guests differ. */
function settings(targets: ResolvedTarget[], shared: Array<[string, string, string]>): string {
  const home = homedir();
  const tilde = (p: string) => (p.startsWith(`${home}/`) ? `~${p.slice(home.length)}` : p);
  const fields: Array<[string, (t: ResolvedTarget) => [string, ValueSource | undefined] | undefined]> = [
    ['user', (t) => [t.user, t.sources.user]],
    ['port', (t) => [String(t.port), t.sources.port]],
    ['identity', (t) => (t.identityFiles
      ? [t.identityFiles.map(tilde).join(', '), t.sources.identityFiles]
      : ['the ssh agent, else ~/.ssh/id_ed25519, id_ecdsa or id_rsa', { from: 'default' }])],
    ['known_hosts', (t) => [(t.knownHostsFiles ?? []).map(tilde).join(', '), t.sources.knownHostsFiles]],
    ['connect timeout', (t) => [`${(t.connectTimeoutMs ?? 0) / 1000} s`, t.sources.connectTimeoutMs]],
    ['jump', (t) => (t.jump ? [t.jump.map((j) => `${j.user}@${j.host}:${j.port}`).join(',') , t.sources.jump] : undefined)],
    ['proxy command', (t) => (t.proxyCommand ? [t.proxyCommand, t.sources.proxyCommand] : undefined)],
  ];
  const width = 17;
  let out = shared.map(([name, value, from]) => `  ${`${name}:`.padEnd(width)}${tilde(value)}  (${from})\n`).join('');
  for (const [name, get] of fields) {
    const groups = new Map<string, { value: string; from: string; hosts: string[] }>();
    for (const t of targets) {
      const v = get(t);
      if (!v) continue;
      const from = describe(v[1]) ?? 'default';
      const key = `${v[0]}\0${from}`;
      const g = groups.get(key) ?? { value: v[0], from, hosts: [] };
      g.hosts.push(t.name);
      groups.set(key, g);
    }
    let label = `${name}:`.padEnd(width);
    for (const g of groups.values()) {
      const on = groups.size > 1 || g.hosts.length < targets.length ? ` on ${foldHosts(g.hosts)}` : '';
      out += `  ${label}${g.value}  (${g.from})${on}\n`;
      label = ''.padEnd(width);
    }
  }
  return out;
}
