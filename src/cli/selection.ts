// Options every fleet-wide command shares (inventory, selection, user, keys, known_hosts, timeouts),
// normalised once into what the core needs.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { Command, Option } from 'commander';
import ssh2 from 'ssh2';
import { InputError, UsageError } from '../core/index.js';
import { expandFailed } from './rerun.js';
import type { GuestTarget, SessionOptions } from '../executor/index.js';
import { loadInventory, select, type Host, type Inventory } from '../inventory/index.js';
import {
  loadKnownHosts, resolveTarget, SshConfig, type InventoryConnection, type KnownHosts, type ResolvedTarget, type Setting, type ValueSource,
} from '../ssh/index.js';

export interface SelectionFlags {
  inventory: string;
  limit?: string;
  user?: string;
  identity?: string;
  knownHosts?: string;
  connectTimeout: number;
  /** True when --connect-timeout was given (it then beats ssh_config's ConnectTimeout). */
  connectTimeoutFromFlag?: boolean;
  timeout?: number;
  port?: number;
  jump?: string;
  /** ssh client config: a file, `none`, or (unset) ~/.ssh/config when it exists. */
  sshConfig?: string;
  /** Where each option given came from (the command line or a FLEET_* variable), by option name. */
  optionSources?: Partial<Record<string, ValueSource>>;
}

export function addSelectionOptions(cmd: Command): Command {
  // ssh_config's ConnectTimeout yields to the flag only when the flag was typed, not to its default.
  cmd.hook('preAction', (c) => {
    c.setOptionValue('connectTimeoutFromFlag', c.getOptionValueSource('connectTimeout') === 'cli');
    c.setOptionValue('optionSources', optionSources(c));
  });
  return cmd
    .argument('[selection]', 'hosts or groups to act on (same syntax as --limit)')
    .addOption(new Option('-i, --inventory <path>', 'inventory file or directory').default('inventory'))
    .option('-l, --limit <pattern>', "selection: all, group, host, range, a,b  !exclude  g1:&g2")
    .option('-u, --user <name>', 'login user (default: inventory ansible_user, else ssh_config User, else yours)')
    .option('--port <n>', 'SSH port for every guest (default: inventory ansible_port, else ssh_config Port, else 22)')
    .option('--jump <hops>', 'reach guests through jump hosts: [user@]host[:port][,next...] (or none)')
    .option('-F, --ssh-config <file>', 'OpenSSH client config to read, or none (default: ~/.ssh/config)')
    .option('--identity <file>', 'private key file (default: ssh agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa)')
    .option('--known-hosts <file>', 'pinned host keys (default: known_hosts beside the inventory)')
    .addOption(new Option('--connect-timeout <s>', 'seconds to get an SSH session (at most 86400: 24 h)').default(10))
    .option('--timeout <s>', 'seconds a command may run before it is stopped (at most 604800: 7 days)');
}

/** The options the command line or a FLEET_* variable gave, with which (what `fleet inventory` shows). */
function optionSources(c: Command): Partial<Record<string, ValueSource>> {
  const out: Partial<Record<string, ValueSource>> = {};
  for (const o of c.options) {
    const key = o.attributeName();
    const source = c.getOptionValueSource(key);
    if (source === 'env' && o.envVar) out[key] = { from: 'env', variable: o.envVar, flag: o.long ?? o.flags };
    else if (source === 'cli') out[key] = { from: 'flag', flag: o.long ?? o.flags };
  }
  return out;
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
  const pattern = expandFailed(selection ?? f.limit ?? 'all', f.inventory);
  const hosts = select(inv, pattern);
  if (hosts.length === 0) throw new UsageError(`selection '${pattern}' matches no host`);
  const invDir = existsSync(f.inventory) && statSync(f.inventory).isDirectory() ? f.inventory : dirname(f.inventory);
  const knownHostsPath = f.knownHosts ?? join(invDir, 'known_hosts');
  const knownHosts = await loadKnownHosts(knownHostsPath);
  for (const w of knownHosts.warnings) process.stderr.write(`fleet: warning: ${w.file}:${w.line}: ${w.message}\n`);
  const targets = resolveTargets(inv, hosts, f, knownHostsPath);
  return { targets, knownHostsPath, knownHosts: await withExtraPins(knownHosts, targets) };
}

/** The ssh client config the flags name: a file (which must exist), none, or ~/.ssh/config if present. */
export function loadSshConfig(f: Pick<SelectionFlags, 'sshConfig'>): SshConfig {
  if (f.sshConfig === 'none') return SshConfig.none();
  if (f.sshConfig) return SshConfig.load(f.sshConfig, { required: true });
  return SshConfig.load(join(homedir(), '.ssh', 'config'));
}

/** Each host's connection: flags, then inventory vars, then ssh_config, then defaults. */
export function resolveTargets(inv: Inventory, hosts: Host[], f: SelectionFlags, knownHostsPath: string): ResolvedTarget[] {
  const config = loadSshConfig(f);
  const me = userInfo().username;
  const warned = new Set<string>();
  const src = f.optionSources ?? {};
  return hosts.map((h) => {
    const { target, ignored } = resolveTarget(inventoryConnection(inv, h), {
      config,
      localUser: me,
      flags: { user: f.user, port: f.port, identity: f.identity, jump: f.jump, connectTimeoutS: f.connectTimeoutFromFlag ? f.connectTimeout : undefined },
      flagSources: { user: src.user, port: src.port, identity: src.identity, jump: src.jump, connectTimeoutS: src.connectTimeout },
      knownHosts: { value: knownHostsPath, source: f.knownHosts ? src.knownHosts ?? { from: 'flag', flag: '--known-hosts' } : { from: 'default' } },
      defaultConnectTimeoutS: f.connectTimeout,
    });
    for (const w of ignored) {
      const at = `${w.file}:${w.line}`;
      if (!warned.has(at)) process.stderr.write(`fleet: warning: ${at}: ${w.message}\n`);
      warned.add(at);
    }
    return target;
  });
}

function inventoryConnection(inv: Inventory, h: Host): InventoryConnection {
  const origins = inv.origins.get(h.name) ?? {};
  const setting = <T>(value: T, ...vars: string[]): Setting<T> => {
    const name = vars.find((v) => origins[v]) ?? vars[0];
    const o = origins[name];
    const source: ValueSource = o ? { from: 'inventory', file: o.file, line: o.line, var: name } : { from: 'default' };
    return { value, source };
  };
  const first = (...vars: string[]) => vars.find((v) => h.vars[v] !== undefined && h.vars[v] !== '');
  const c: InventoryConnection = { name: h.name };
  if (h.address !== h.name) c.host = setting(h.address, 'ansible_host', 'ansible_ssh_host');
  if (h.port !== undefined) c.port = setting(h.port, 'ansible_port', 'ansible_ssh_port');
  if (h.user !== undefined) c.user = setting(h.user, 'ansible_user', 'ansible_ssh_user');
  const key = first('ansible_ssh_private_key_file', 'ansible_private_key_file');
  if (key) c.identityFile = setting(h.vars[key], key);
  const args = first('ansible_ssh_common_args', 'ansible_ssh_extra_args');
  if (args) c.sshArgs = setting(h.vars[args], args);
  return c;
}

/** Pins from every guest's extra known_hosts files (ssh_config UserKnownHostsFile) besides the main file. */
async function withExtraPins(main: KnownHosts, targets: ResolvedTarget[]): Promise<KnownHosts> {
  const extra = new Set<string>();
  for (const t of targets) for (const f of t.knownHostsFiles ?? []) if (f !== main.file && existsSync(f)) extra.add(f);
  if (extra.size === 0) return main;
  const lines = [...main.lines];
  const warnings = [...main.warnings];
  for (const f of extra) {
    const kh = await loadKnownHosts(f);
    for (const w of kh.warnings) process.stderr.write(`fleet: warning: ${w.file}:${w.line}: ${w.message}\n`);
    lines.push(...kh.lines);
    warnings.push(...kh.warnings);
  }
  return { ...main, lines, warnings };
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
export async function resolveCredentials(
  f: Pick<SelectionFlags, 'identity'>,
  own?: { identities: ReadonlyMap<string, Buffer>; everyGuestHasOne: boolean },
): Promise<SessionOptions['credentials']> {
  let privateKey: Buffer | undefined;
  const agent = process.env.SSH_AUTH_SOCK || undefined;
  if (f.identity) privateKey = own?.identities.get(f.identity) ?? (await readIdentity(f.identity));
  else if (own?.everyGuestHasOne) return { agent };
  else if (!agent) {
    const found = ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((n) => join(homedir(), '.ssh', n)).find((p) => existsSync(p));
    if (!found) throw new UsageError('no identity: pass --identity <file> or run an ssh agent (SSH_AUTH_SOCK)');
    privateKey = await readIdentity(found);
  }
  return { privateKey, agent: privateKey ? undefined : agent };
}

/**
 * The private keys the guests and their jump hosts name (--identity, ansible_ssh_private_key_file,
 * IdentityFile), each read once; a file that does not exist is skipped as ssh skips it, unless the
 * command line named it.
 */
export async function loadIdentities(targets: GuestTarget[]): Promise<Map<string, Buffer>> {
  const paths = new Set<string>();
  for (const t of targets) {
    for (const p of t.identityFiles ?? []) paths.add(p);
    for (const hop of t.jump ?? []) for (const p of hop.identityFiles ?? []) paths.add(p);
  }
  const keys = new Map<string, Buffer>();
  for (const p of paths) {
    const flagged = targets.some((t) => ['flag', 'env'].includes((t as Partial<ResolvedTarget>).sources?.identityFiles?.from ?? '') && t.identityFiles?.[0] === p);
    if (!flagged && !existsSync(p)) continue;
    keys.set(p, await readIdentity(p));
  }
  return keys;
}

/** The selection (resolveHosts), then the identity to log in with (resolveCredentials). */
export async function resolveSelection(selection: string | undefined, f: SelectionFlags): Promise<ResolvedSelection> {
  const { targets, knownHostsPath, knownHosts } = await resolveHosts(selection, f);
  return { targets, knownHostsPath, session: await resolveSession(f, targets, knownHosts) };
}

/** The login part for selected guests: each one's own keys (read once), else the shared identity. */
export async function resolveSession(f: SelectionFlags, targets: GuestTarget[], knownHosts: KnownHosts): Promise<SessionOptions> {
  const identities = await loadIdentities(targets);
  const everyGuestHasOne = targets.every((t) => t.identityFiles?.some((p) => identities.has(p)));
  const credentials = await resolveCredentials(f, { identities, everyGuestHasOne });
  return {
    knownHosts,
    credentials,
    identities,
    connectTimeoutMs: f.connectTimeout * 1000,
    timeoutMs: f.timeout ? f.timeout * 1000 : undefined,
  };
}
