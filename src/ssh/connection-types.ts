// What a connection, the route its bytes take and the jump hosts on that route have in common: the
// options a connection is opened with, the route, and the error it fails with. Kept apart so that
// each of them imports this and none the other back (a jump host is itself a connection).
import type { Duplex } from 'node:stream';
import type { HostKeyVerdict, KnownHosts } from './known-hosts.js';
import type { Credentials, JumpHop } from './target.js';

/** Why a connection failed, in the words of the result model. */
export type ConnectFailure = 'unreachable' | 'timeout' | 'auth-refused' | 'hostkey-refused';

export class SshError extends Error {
  constructor(
    message: string,
    readonly reason: ConnectFailure,
    readonly host: string,
    readonly details: { verdict?: HostKeyVerdict; fingerprint?: string; pinned?: string[]; ignored?: string[] } = {},
  ) {
    super(message);
    this.name = 'SshError';
  }
}

export interface ConnectOptions {
  /** Name for messages (inventory name). */
  name: string;
  address: string;
  port: number;
  knownHosts: KnownHosts;
  credentials: Credentials;
  connectTimeoutMs: number;
  keepaliveIntervalMs?: number;
  /** known_hosts name the key is pinned under instead of address:port (ssh_config HostKeyAlias). */
  hostKeyAlias?: string;
  /** Jump hosts, first hop first: the guest is reached through a direct-tcpip channel of the last. */
  jump?: JumpHop[];
  /** Private keys already read (and decrypted), by path: a jump host's identity files are taken from here first. */
  identities?: ReadonlyMap<string, Buffer>;
  /** Pins for the jump hosts when they are not in knownHosts (a rotation pins the guest alone). */
  jumpKnownHosts?: KnownHosts;
  /** A ProxyCommand (%h %n %p %r %% unexpanded) whose stdin and stdout carry the connection. */
  proxyCommand?: string;
  /** What to do about an unpinned key, for its error (default: enrol it with `fleet keys trust`). */
  enrolAdvice?: string;
}

/** How a connection's bytes reach its host (see jump-route.ts). */
export interface Route {
  /** The stream SSH runs over; rejects with an SshError naming the hop that failed. */
  sock: Promise<Duplex>;
  /** What must happen first under its own deadline (the jump host's connection); the guest's starts after. */
  before?: Promise<unknown>;
  /** Where it stands while the stream is not there yet, for a timeout message (` (waiting for ...)`). */
  stage?(): string;
  /** Says more about a failure than ssh2's message (a ProxyCommand's exit status and stderr). */
  explain?(message: string): Promise<string>;
  /** Lets go of what the route holds (a jump host's reference, a ProxyCommand); safe to call twice. */
  release(): void;
}
