// `fleet inventory [sel]`: the expansion of a selection, folded, or every host as JSON with its
// resolved connection (address, port, user, identity, jump chain) and where each value came from.
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError } from '../../core/index.js';
import { foldHosts, loadInventory, select } from '../../inventory/index.js';
import type { ValueSource } from '../../ssh/index.js';
import { resolveTargets, type SelectionFlags } from '../selection.js';

/** `flag --user`, `inventory hosts:12 (ansible_user)`, `ssh_config ~/.ssh/config:4`, `default`. */
function describe(s: ValueSource | undefined): string | undefined {
  if (!s) return undefined;
  switch (s.from) {
    case 'flag':
      return `flag ${s.flag}`;
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
  const hosts = select(inv, selection ?? f.limit ?? 'all');
  if (!f.json) {
    process.stdout.write(`${foldHosts(hosts.map((h) => h.name))} (${hosts.length} hosts)\n`);
    return;
  }
  const invDir = existsSync(f.inventory) && statSync(f.inventory).isDirectory() ? f.inventory : dirname(f.inventory);
  const targets = resolveTargets(inv, hosts, f, f.knownHosts ?? join(invDir, 'known_hosts'));
  hosts.forEach((h, i) => {
    const { sources, ...t } = targets[i];
    const from = Object.fromEntries(Object.entries(sources).map(([k, s]) => [k, describe(s)]));
    const row = { ...t, groups: h.groups, vars: h.vars, from };
    process.stdout.write(`${JSON.stringify(row)}\n`);
  });
}
