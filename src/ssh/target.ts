// Where and how one guest is reached, resolved from flags, inventory vars, ssh_config and defaults.

/** Who a connection logs in as, and with what. */
export interface Credentials {
  username: string;
  privateKey?: Buffer;
  /** Path of an ssh-agent socket (SSH_AUTH_SOCK). */
  agent?: string;
}

/** One jump host of a chain (ProxyJump, --jump, `-J` or a `ssh -W %h:%p` ProxyCommand). */
export interface JumpHop {
  /** The name as written (a Host alias, an inventory name or an address): what messages show. */
  host: string;
  /** Where to connect (its ssh_config HostName, else `host`). */
  address: string;
  port: number;
  user: string;
  /** Private key files for this hop; absent: the guest's credentials. */
  identityFiles?: string[];
  /** known_hosts name the hop's key is pinned under, when not its address (ssh_config HostKeyAlias). */
  hostKeyAlias?: string;
}

/** Where a resolved value came from, as `fleet inventory --json` shows it. */
export type ValueSource =
  | { from: 'flag'; flag: string }
  /** A FLEET_* environment variable standing for the flag (the command line did not give it). */
  | { from: 'env'; variable: string; flag: string }
  | { from: 'inventory'; file: string; line?: number; var: string }
  | { from: 'ssh_config'; file: string; line: number }
  | { from: 'default' };

/** A guest as a connection sees it: everything needed to open a pinned session to it. */
export interface ConnectionTarget {
  /** Inventory name: messages, results, selection. */
  name: string;
  /** Where to connect (inventory ansible_host, else ssh_config HostName, else the name). */
  address: string;
  port: number;
  user: string;
  /** Private key files to offer, in order (flag, inventory, ssh_config IdentityFile lines). */
  identityFiles?: string[];
  /** ssh_config IdentitiesOnly: offer only identityFiles, not every key of the agent. */
  identitiesOnly?: boolean;
  /** ssh_config IdentityAgent: an agent socket path, or 'none' for no agent. */
  identityAgent?: string;
  /** Files pins are read from, in order (--known-hosts or the inventory's, then UserKnownHostsFile). */
  knownHostsFiles?: string[];
  /** Name the host key is looked up under in known_hosts instead of address:port (HostKeyAlias). */
  hostKeyAlias?: string;
  connectTimeoutMs?: number;
  /** ssh_config ServerAliveInterval, in ms: keepalive period for this guest's connection. */
  serverAliveIntervalMs?: number;
  /** Jump hosts, first hop first: the guest is reached through a channel of the last one. */
  jump?: JumpHop[];
  /** A ProxyCommand that is not a plain `ssh -W %h:%p` jump, as written (%h %p %r unexpanded). */
  proxyCommand?: string;
}

/** A target with the origin of each resolved value (field name -> source). */
export interface ResolvedTarget extends ConnectionTarget {
  sources: Partial<Record<'address' | 'port' | 'user' | 'identityFiles' | 'jump' | 'proxyCommand' | 'knownHostsFiles' | 'hostKeyAlias' | 'connectTimeoutMs' | 'serverAliveIntervalMs', ValueSource>>;
}

/**
 * The credentials for one target: its first identity file that was read (as ssh offers them in
 * turn, missing ones skipped), else the session's key; the agent unless IdentityAgent none, or
 * IdentitiesOnly with a key of its own.
 */
export function targetCredentials(t: ConnectionTarget, base: Omit<Credentials, 'username'>, identities?: ReadonlyMap<string, Buffer>): Credentials {
  const own = t.identityFiles?.map((f) => identities?.get(f)).find((k) => k !== undefined);
  const privateKey = own ?? base.privateKey;
  let agent = base.agent;
  if (t.identityAgent) agent = t.identityAgent === 'none' ? undefined : t.identityAgent;
  if (own && t.identitiesOnly) agent = undefined;
  return { username: t.user, privateKey, agent };
}
