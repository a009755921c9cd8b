// What the `fleet keys` commands share: the selection without credentials (scanning needs no login;
// resolveHosts, re-exported from ../selection.ts), the confirmation rule (inquirer on a terminal,
// --yes otherwise, never a prompt nobody can answer), and how keys and clone groups read on screen.
import { UsageError } from '../../core/index.js';
import type { GuestTarget } from '../../executor/index.js';
import type { CloneGroup, GuestScan, ScanOptions } from '../../hostkeys/index.js';
import { foldHosts } from '../../inventory/index.js';
import type { KnownHosts } from '../../ssh/index.js';
import { resolveSession, type SelectionFlags } from '../selection.js';

export { resolveHosts } from '../selection.js';

/** Guests behind jump hosts are scanned through them, which takes a login there: the keys for it, only then. */
export async function scanSession(f: SelectionFlags, targets: GuestTarget[], knownHosts: KnownHosts): Promise<ScanOptions['session']> {
  return targets.some((t) => t.jump?.length) ? resolveSession(f, targets, knownHosts) : undefined;
}

export const out = (s: string) => process.stdout.write(s);

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
