// How a connection's bytes reach its host: straight over TCP, through a channel of the last jump host
// of a chain, or through a ProxyCommand's pipes. Every route ends in the same pinned SSH handshake.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { SshError, type ConnectOptions } from './connection.js';
import { acquireJump, channelThrough, releaseJump } from './jump-pool.js';
import { expandProxyCommand, startProxyCommand } from './proxy-command.js';

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

function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      f();
    }
  };
}

function direct(o: ConnectOptions): Route {
  const s = net.connect({ host: o.address, port: o.port, noDelay: true });
  // An error can come before the connection listens for it (a bad address, on the next tick).
  let early: NodeJS.ErrnoException | undefined;
  const keep = (err: Error) => (early ??= err);
  s.on('error', keep);
  const sock = Promise.resolve().then(() => {
    s.off('error', keep);
    if (!early) return s;
    s.destroy();
    throw new SshError(`${o.name} (${o.address}:${o.port}): ${`${early.code ?? ''} ${early.message}`.trim()}`, 'unreachable', o.name);
  });
  return { sock, release: () => {} };
}

function throughJump(o: ConnectOptions): Route {
  const who = `${o.name} (${o.address}:${o.port})`;
  const entry = acquireJump(o.jump!, {
    knownHosts: o.jumpKnownHosts ?? o.knownHosts, credentials: o.credentials, connectTimeoutMs: o.connectTimeoutMs, identities: o.identities,
  });
  // A hop's failure (unreachable, key refused, auth refused) becomes the guest's, in the hop's words.
  const before = entry.conn.catch((err: unknown) => {
    const e = err instanceof SshError ? err : new SshError((err as Error).message, 'unreachable', o.name);
    throw new SshError(`${who}: ${e.message}`, e.reason, o.name, e.details);
  });
  let stage = ` (waiting for jump host ${entry.hop.host})`;
  const sock = before.then(() => {
    stage = ` (opening a channel through jump host ${entry.hop.host})`;
    return channelThrough(entry, o.address, o.port, who, o.name);
  });
  return { sock, before, stage: () => stage, release: once(() => releaseJump(entry)) };
}

function throughProxy(o: ConnectOptions): Route {
  const command = expandProxyCommand(o.proxyCommand!, { host: o.address, name: o.name, port: o.port, user: o.credentials.username });
  const proxy = startProxyCommand(command);
  return {
    sock: proxy.then((p) => p.sock),
    explain: (message) => proxy.then((p) => p.explain(message), () => message),
    release: once(() => void proxy.then((p) => p.kill(), () => {})),
  };
}

/** The route for `o`; throws (before anything starts) on a ProxyCommand with an unknown token. */
export function openRoute(o: ConnectOptions): Route {
  if (o.jump?.length) return throughJump(o);
  if (o.proxyCommand) return throughProxy(o);
  return direct(o);
}
