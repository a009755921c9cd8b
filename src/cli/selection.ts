// Options every fleet-wide command shares (inventory, selection, user, keys, known_hosts, timeouts),
// normalised once into what the core needs.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { Command, Option } from 'commander';
import ssh2 from 'ssh2';
import { InputError, UsageError } from '../core/index.js';
import type { GuestTarget, SessionOptions } from '../executor/index.js';
import { loadInventory, select } from '../inventory/index.js';
import { loadKnownHosts, type KnownHosts } from '../ssh/index.js';

export interface SelectionFlags {
  inventory: string;
  limit?: string;
  user?: string;
  identity?: string;
  knownHosts?: string;
  connectTimeout: number;
  timeout?: number;
}

/** Longest --connect-timeout and --timeout: a day to get a session, a week for a command. */
export const MAX_CONNECT_TIMEOUT_S = 24 * 3600;
export const MAX_TIMEOUT_S = 7 * 24 * 3600;

// Beyond 2^31-1 ms Node's timers fire after 1 ms, so an oversized value would time out every guest at
// once: refused with the range instead. A UsageError: one line and exit 2, as for any bad input.
const seconds = (name: string, max: number, range: string) => (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0 || n > max) {
    throw new UsageError(`${name} must be a number of seconds greater than 0 and at most ${max} (${range}), got '${v}'`);
  }
  return n;
};

export function addSelectionOptions(cmd: Command): Command {
  return cmd
    .argument('[selection]', 'hosts or groups to act on (same syntax as --limit)')
    .addOption(new Option('-i, --inventory <path>', 'inventory file or directory').default('inventory'))
    .option('-l, --limit <pattern>', "selection: all, group, host, range, a,b  !exclude  g1:&g2")
    .option('-u, --user <name>', 'login user (default: inventory ansible_user, else yours)')
    .option('--identity <file>', 'private key file (default: ssh agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa)')
    .option('--known-hosts <file>', 'pinned host keys (default: known_hosts beside the inventory)')
    .option('--connect-timeout <s>', 'seconds to get an SSH session (at most 86400: 24 h)', seconds('--connect-timeout', MAX_CONNECT_TIMEOUT_S, '24 h'), 10)
    .option('--timeout <s>', 'seconds a command may run before it is stopped (at most 604800: 7 days)', seconds('--timeout', MAX_TIMEOUT_S, '7 days'));
}

/** The selected guests and the known_hosts they are checked against: a selection without credentials. */
export interface SelectedHosts {
  targets: GuestTarget[];
  knownHostsPath: string;
  knownHosts: KnownHosts;
}

export interface ResolvedSelection {
  targets: GuestTarget[];
  session: SessionOptions;
  knownHostsPath: string;
}

/**
 * The selection part: inventory, selection (argument or --limit, default all), each guest's login
 * user and port, and the known_hosts file (--known-hosts, else beside the inventory; its warnings
 * go to stderr). Loads no private key, so commands that never log in (scanning) can use it.
 */
export async function resolveHosts(selection: string | undefined, f: SelectionFlags): Promise<SelectedHosts> {
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
  const targets = hosts.map((h) => ({ name: h.name, address: h.address, port: h.port ?? 22, user: f.user ?? h.user ?? me }));
  return { targets, knownHostsPath, knownHosts };
}

async function readIdentity(path: string): Promise<Buffer> {
  let key: Buffer;
  try {
    key = readFileSync(path);
  } catch (err) {
    throw new InputError(`cannot read identity: ${(err as Error).message}`, { file: path });
  }
  const parsed = ssh2.utils.parseKey(key);
  if (!(parsed instanceof Error)) return key;
  if (!/passphrase|encrypted/i.test(parsed.message)) throw new InputError(`not a usable private key: ${parsed.message}`, { file: path });
  if (!process.stdin.isTTY) throw new InputError('private key is encrypted and there is no terminal to ask its passphrase; use the ssh agent', { file: path });
  const inquirer = (await import('inquirer')).default;
  const { passphrase } = await inquirer.prompt<{ passphrase: string }>([
    { type: 'password', name: 'passphrase', message: `Passphrase for ${path}:`, mask: '*' },
  ]);
  const decrypted = ssh2.utils.parseKey(key, passphrase);
  if (decrypted instanceof Error) throw new InputError(`wrong passphrase: ${decrypted.message}`, { file: path });
  // Hand ssh2 the decrypted key once: it is asked for once per run, not once per guest.
  const one = Array.isArray(decrypted) ? decrypted[0]! : decrypted;
  return Buffer.from(one.getPrivatePEM());
}

/**
 * The identity part: --identity if given, else the ssh agent (SSH_AUTH_SOCK), else the first of
 * ~/.ssh/id_ed25519, id_ecdsa, id_rsa. An encrypted key's passphrase is asked on the terminal.
 */
export async function resolveCredentials(f: Pick<SelectionFlags, 'identity'>): Promise<SessionOptions['credentials']> {
  let privateKey: Buffer | undefined;
  const agent = process.env.SSH_AUTH_SOCK || undefined;
  if (f.identity) privateKey = await readIdentity(f.identity);
  else if (!agent) {
    const found = ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((n) => join(homedir(), '.ssh', n)).find((p) => existsSync(p));
    if (!found) throw new UsageError('no identity: pass --identity <file> or run an ssh agent (SSH_AUTH_SOCK)');
    privateKey = await readIdentity(found);
  }
  return { privateKey, agent: privateKey ? undefined : agent };
}

/** The selection (resolveHosts), then the identity to log in with (resolveCredentials). */
export async function resolveSelection(selection: string | undefined, f: SelectionFlags): Promise<ResolvedSelection> {
  const { targets, knownHostsPath, knownHosts } = await resolveHosts(selection, f);
  const credentials = await resolveCredentials(f);
  return {
    targets,
    knownHostsPath,
    session: {
      knownHosts,
      credentials,
      connectTimeoutMs: f.connectTimeout * 1000,
      timeoutMs: f.timeout ? f.timeout * 1000 : undefined,
    },
  };
}
