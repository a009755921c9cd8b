// How a connection's bytes reach its host: straight over TCP, through a channel of the last jump host
// of a chain, or through a ProxyCommand's pipes. Every route ends in the same pinned SSH handshake.
import net from 'node:net';
import { SshError, type ConnectOptions, type Route } from './connection-types.js';
import { acquireJump, channelThrough, releaseJump, type HopConnect } from './jump-pool.js';
import { expandProxyCommand, startProxyCommand } from './proxy-command.js';

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

function throughJump(o: ConnectOptions, connectHop: HopConnect): Route {
  const who = `${o.name} (${o.address}:${o.port})`;
  const entry = acquireJump(o.jump!, {
    knownHosts: o.jumpKnownHosts ?? o.knownHosts, credentials: o.credentials, connectTimeoutMs: o.connectTimeoutMs, identities: o.identities,
    connect: connectHop,
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

/**
 * The route for `o`, its jump hosts (if any) logged into with `connectHop`; throws (before anything
 * starts) on a ProxyCommand with an unknown token.
 */
export function openRoute(o: ConnectOptions, connectHop: HopConnect): Route {
  if (o.jump?.length) return throughJump(o, connectHop);
  if (o.proxyCommand) return throughProxy(o);
  return direct(o);
}
