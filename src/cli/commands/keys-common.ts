// What the `fleet keys` commands share: the selection without credentials (scanning needs no login),
// the confirmation rule (inquirer on a terminal, --yes otherwise, never a prompt nobody can answer),
// and how keys and clone groups read on screen.
import { existsSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { UsageError } from '../../core/index.js';
import type { CloneGroup, GuestScan } from '../../hostkeys/index.js';
import { foldHosts, loadInventory, select } from '../../inventory/index.js';
import { loadKnownHosts, type KnownHosts } from '../../ssh/index.js';
import type { SelectionFlags } from '../selection.js';

export const out = (s: string) => process.stdout.write(s);

export interface KeysTarget {
  name: string;
  address: string;
  port: number;
  user: string;
}

/** The selected guests and known_hosts, as `resolveSelection` finds them, without loading a private key. */
export async function resolveHosts(selection: string | undefined, f: SelectionFlags): Promise<{ targets: KeysTarget[]; knownHostsPath: string; knownHosts: KnownHosts }> {
  if (selection && f.limit) throw new UsageError('give the selection either as an argument or with --limit, not both');
  const inv = await loadInventory(f.inventory);
  const pattern = selection ?? f.limit ?? 'all';
  const hosts = select(inv, pattern);
  if (hosts.length === 0) throw new UsageError(`selection '${pattern}' matches no host`);
  const invDir = existsSync(f.inventory) && statSync(f.inventory).isDirectory() ? f.inventory : dirname(f.inventory);
  const knownHostsPath = f.knownHosts ?? join(invDir, 'known_hosts');
  const knownHosts = await loadKnownHosts(knownHostsPath);
  for (const w of knownHosts.warnings) process.stderr.write(`fleet: warning: ${w.file}:${w.line}: ${w.message}\n`);
  const me = userInfo().username;
  return { targets: hosts.map((h) => ({ name: h.name, address: h.address, port: h.port ?? 22, user: f.user ?? h.user ?? me })), knownHostsPath, knownHosts };
}

/** Asks a yes/no question on the terminal; with --yes the answer is yes; without a terminal it is an error. */
export async function confirm(question: string, yes: boolean | undefined, whatToPass = '--yes'): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UsageError(`refusing to ask "${question}" without a terminal; check what is shown above and pass ${whatToPass}`);
  }
  const inquirer = (await import('inquirer')).default;
  const { ok } = await inquirer.prompt<{ ok: boolean }>([{ type: 'confirm', name: 'ok', message: question, default: false }]);
  return ok;
}

export const keyLine = (k: { keyType: string; fingerprint: string }) => `${k.keyType.padEnd(19)} ${k.fingerprint}`;

/** One paragraph per clone group: its guests folded into ranges and the keys they share. */
export function describeGroups(groups: CloneGroup[], indent = '  '): string {
  return groups
    .map((g) => `${indent}group ${g.id}: ${foldHosts(g.hosts)} (${g.hosts.length} guests) share\n${g.keys.map((k) => `${indent}    ${keyLine(k)}`).join('\n')}\n`)
    .join('');
}

export function statusWord(s: GuestScan['status']): string {
  return s === 'changed' ? 'CHANGED' : s === 'revoked' ? 'REVOKED' : s;
}
