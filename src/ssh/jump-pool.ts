// Jump host connections shared by every guest behind them: one pinned connection per hop (a chain's
// later hops reached through a channel of the hop before), counted by the guests using it and closed
// when the last is done. 500 guests behind one bastion cost one bastion connection, not 500.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import type { Duplex } from 'node:stream';
import { SshError, type ConnectOptions, type Route } from './connection-types.js';
import type { KnownHosts } from './known-hosts.js';
import type { Credentials, JumpHop } from './target.js';

/** What the pool uses of a hop's connection (an SshConnection). */
export interface HopConnection {
  /** A direct-tcpip channel to address:port; rejects with ssh2's error (its `reason` the SSH code). */
  openChannelTo(address: string, port: number): Promise<Duplex>;
  onClose(listener: () => void): void;
  close(): void;
}

/** Opens a hop's pinned connection: over `over` (a channel of the hop before), else over its own route. */
export type HopConnect = (o: ConnectOptions, over?: Route) => Promise<HopConnection>;

/** What the hops of one guest's chain share with the guest: pins, credentials, deadline; how a hop is connected. */
export interface HopContext {
  knownHosts: KnownHosts;
  credentials: Omit<Credentials, 'username'>;
  connectTimeoutMs: number;
  /** Keys already read, by path (an encrypted one decrypted once): looked up before reading a file. */
  identities?: ReadonlyMap<string, Buffer>;
  connect: HopConnect;
}

/** One hop's connection, as long as some guest (or a later hop) needs it. */
export interface JumpEntry {
  hop: JumpHop;
  conn: Promise<HopConnection>;
  refs: number;
  /** The hop before this one, held while this one lives. */
  parent?: JumpEntry;
  key: string;
  done: boolean;
}

const live = new Map<string, JumpEntry>();

/** Stable small ids for objects in pool keys: the same pins and key share, others do not. */
const ids = new WeakMap<object, number>();
let nextId = 1;
function idOf(o: object | undefined): number {
  if (!o) return 0;
  let id = ids.get(o);
  if (!id) ids.set(o, (id = nextId++));
  return id;
}

/** Hops share a connection when they are the same hops, pinned by the same file, logged into alike. */
function keyOf(chain: JumpHop[], ctx: HopContext): string {
  const hops = chain.map((h) => {
    const c = hopCredentials(h, ctx);
    return `${h.user}@${h.address}:${h.port}/${h.hostKeyAlias ?? ''}/${idOf(c.privateKey)}/${c.agent ?? ''}`;
  });
  return [idOf(ctx.knownHosts), ctx.connectTimeoutMs, ...hops].join(' > ');
}

/** A hop's own identity file when it has a readable one, else the guest's key; the agent either way. */
function hopCredentials(hop: JumpHop, ctx: HopContext): Omit<Credentials, 'username'> {
  const own = (hop.identityFiles ?? []).map((f) => ctx.identities?.get(f) ?? readKeyFile(f)).find((k): k is Buffer => k !== null);
  return own ? { ...ctx.credentials, privateKey: own } : ctx.credentials;
}

/** Key files are read once per run, and kept as the same Buffer so the parsed key is cached too. */
const keyFiles = new Map<string, Buffer | null>();
function readKeyFile(path: string): Buffer | null {
  const full = path.startsWith('~/') ? homedir() + path.slice(1) : path;
  if (!keyFiles.has(full)) {
    try {
      keyFiles.set(full, readFileSync(full));
    } catch {
      keyFiles.set(full, null); // as ssh does: an identity file that is not there is not offered
    }
  }
  return keyFiles.get(full)!;
}

function hopOptions(hop: JumpHop, ctx: HopContext): ConnectOptions {
  return {
    name: `jump host ${hop.host}`,
    address: hop.address,
    port: hop.port,
    knownHosts: ctx.knownHosts,
    credentials: { ...hopCredentials(hop, ctx), username: hop.user },
    connectTimeoutMs: ctx.connectTimeoutMs,
    hostKeyAlias: hop.hostKeyAlias,
    enrolAdvice: 'Pin it in known_hosts (as `ssh-keyscan` prints it) after checking the fingerprint with its admin.',
  };
}

/** The words for a channel the hop could not open to `target` (ssh2's error carries the SSH reason code). */
export function channelError(hopName: string, target: string, err: Error & { reason?: number | string }): string {
  const said = err.message.replace(/^\(SSH\) Channel open failure: /, '');
  switch (err.reason) {
    case 1: // SSH_OPEN_ADMINISTRATIVELY_PROHIBITED: AllowTcpForwarding no, PermitOpen, ...
      return `jump host ${hopName} refused to forward to ${target} (administratively prohibited: ${said})`;
    case 2: // SSH_OPEN_CONNECT_FAILED: the jump host tried and could not connect
      return `unreachable from jump host ${hopName}: ${said}`;
    default:
      return /not connected/i.test(err.message)
        ? `connection to jump host ${hopName} lost`
        : `jump host ${hopName} could not open a channel to ${target}: ${said}`;
  }
}

/** A channel from `entry`'s host to address:port; rejects with an SshError naming the hop. */
export async function channelThrough(entry: JumpEntry, address: string, port: number, who: string, name: string): Promise<Duplex> {
  const conn = await entry.conn;
  try {
    return await conn.openChannelTo(address, port);
  } catch (err) {
    throw new SshError(`${who}: ${channelError(entry.hop.host, `${address}:${port}`, err as Error)}`, 'unreachable', name);
  }
}

/**
 * The connection to the last hop of `chain`, counted as used until release(): created (with the hops
 * before it) when no live one exists for the same hops, pins and credentials.
 */
export function acquireJump(chain: JumpHop[], ctx: HopContext): JumpEntry {
  const key = keyOf(chain, ctx);
  const found = live.get(key);
  if (found) {
    found.refs++;
    return found;
  }
  const hop = chain.at(-1)!;
  const parent = chain.length > 1 ? acquireJump(chain.slice(0, -1), ctx) : undefined;
  const o = hopOptions(hop, ctx);
  const who = `${o.name} (${hop.address}:${hop.port})`;
  const entry: JumpEntry = { hop, key, refs: 1, parent, done: false, conn: undefined as never };
  entry.conn = parent
    ? ctx.connect(o, { sock: channelThrough(parent, hop.address, hop.port, who, o.name), before: parent.conn, release: () => {} })
    : ctx.connect(o);
  live.set(key, entry);
  entry.conn.then(
    (c) => c.onClose(() => finish(entry)),
    () => finish(entry),
  );
  return entry;
}

/** One guest (or later hop) is done with `entry`; the last one out closes it. */
export function releaseJump(entry: JumpEntry): void {
  entry.refs--;
  if (entry.refs > 0) return;
  // A fan-out starts the next guest right after one ends: let it take the connection over first.
  setImmediate(() => entry.refs === 0 && finish(entry));
}

/** Retires `entry`: no new guest gets it, its connection closes, the hop before it is let go. */
function finish(entry: JumpEntry): void {
  if (entry.done) return;
  entry.done = true;
  if (live.get(entry.key) === entry) live.delete(entry.key);
  entry.conn.then((c) => c.close(), () => {});
  if (entry.parent) releaseJump(entry.parent);
}

/** How many jump host connections are open or opening (for tests and benchmarks). */
export function openJumpCount(): number {
  return live.size;
}
