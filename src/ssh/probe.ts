// Host key probing, as ssh-keyscan does it: one connection per key type, only as far as the key
// exchange. The server must prove it holds the private key (its signature over the exchange is
// checked) before a key counts; no login is attempted.
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { ConnectConfig } from 'ssh2';
import { SshError, type Route } from './connection-types.js';
import { routeTo } from './connection.js';
import { fingerprintSha256, keyTypeOfBlob } from './fingerprint.js';
import { parseKnownHosts, type KnownHosts } from './known-hosts.js';
import type { Credentials, JumpHop } from './target.js';

const { Client } = ssh2;

/** Key type families and the host key algorithms that select each (ssh2's names). */
export const PROBE_TYPES = {
  ed25519: ['ssh-ed25519'],
  ecdsa: ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'],
  rsa: ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
} as const;
export type ProbeType = keyof typeof PROBE_TYPES;
export const PROBE_TYPE_NAMES = Object.keys(PROBE_TYPES) as ProbeType[];

/** The family of a key type name as it appears in known_hosts (`ssh-ed25519` -> `ed25519`). */
export function probeTypeOf(keyType: string): ProbeType | undefined {
  if (keyType === 'ssh-ed25519') return 'ed25519';
  if (keyType.startsWith('ecdsa-sha2-')) return 'ecdsa';
  if (keyType === 'ssh-rsa' || keyType.startsWith('rsa-sha2-')) return 'rsa';
  return undefined;
}

export interface PresentedKey {
  /** Family probed for (`ed25519`, `ecdsa`, `rsa`). */
  type: ProbeType;
  /** Key type named in the blob (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`). */
  keyType: string;
  key: Buffer;
  /** `SHA256:...`, as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

export type ProbeFailure = 'unreachable' | 'timeout';

/** A direct probe needs no pins: it logs into nothing. */
const NO_PINS = parseKnownHosts('');

export class ProbeError extends Error {
  constructor(message: string, readonly reason: ProbeFailure) {
    super(message);
    this.name = 'ProbeError';
  }
}

export interface ProbeOptions {
  address: string;
  port: number;
  /** One deadline per connection: TCP, banner and key exchange. */
  timeoutMs: number;
  /** How to reach the host when not straight over TCP (its jump hosts or ProxyCommand). */
  via?: ProbeRoute;
}

/** A guest behind jump hosts or a ProxyCommand: the hops are logged into and pinned as for a session. */
export interface ProbeRoute {
  /** The guest's name, for messages and %n. */
  name: string;
  /** The guest's login user (%r). */
  user: string;
  jump?: JumpHop[];
  proxyCommand?: string;
  /** Pins the jump hosts are checked against. */
  knownHosts: KnownHosts;
  /** What the jump hosts are logged into with (a hop's own identity files first). */
  credentials: Omit<Credentials, 'username'>;
  /** Keys already read, by path (a hop's identity files are looked up here first). */
  identities?: ReadonlyMap<string, Buffer>;
}

/**
 * The key the server presents for one type, or null when it offers no key of that type.
 * Rejects with a ProbeError when the server cannot be reached or does not finish in time.
 */
export function probeHostKey(o: ProbeOptions, type: ProbeType): Promise<PresentedKey | null> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let presented: Buffer | undefined;
    let settled = false;
    const where = `${o.address}:${o.port}`;
    const finish = (result: PresentedKey | null | ProbeError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.removeAllListeners();
      client.on('error', () => {});
      client.end();
      sock?.destroy();
      release();
      if (result instanceof ProbeError) reject(result);
      else resolve(result);
    };
    const timer = setTimeout(() => finish(new ProbeError(`${where}: no key exchange within ${o.timeoutMs} ms`, 'timeout')), o.timeoutMs);
    let sock: Duplex | undefined;
    let release = () => {};
    let route: Route;
    try {
      route = routeTo({
        name: o.via?.name ?? where, address: o.address, port: o.port, knownHosts: o.via?.knownHosts ?? NO_PINS,
        credentials: { ...o.via?.credentials, username: o.via?.user ?? 'fleet-keyscan' }, connectTimeoutMs: o.timeoutMs,
        jump: o.via?.jump, proxyCommand: o.via?.proxyCommand, identities: o.via?.identities,
      });
    } catch (err) {
      return finish(new ProbeError(`${where}: ${(err as Error).message}`, 'unreachable'));
    }
    release = route.release;
    // The signature over the exchange is verified after hostVerifier accepts and before 'handshake':
    // reaching it proves the server holds the private half of the key it showed.
    client.on('handshake', () => {
      const keyType = keyTypeOfBlob(presented!) ?? 'unknown';
      finish({ type, keyType, key: presented!, fingerprint: fingerprintSha256(presented!) });
    });
    client.on('error', (err: Error & { level?: string }) => {
      if (/no matching host key/i.test(err.message)) finish(null);
      else if (presented && err.level === 'handshake') finish(new ProbeError(`${where}: ${err.message}`, 'unreachable'));
      else finish(new ProbeError(`${where}: ${err.message}`, 'unreachable'));
    });
    client.on('close', () => finish(new ProbeError(`${where}: connection closed during key exchange`, 'unreachable')));
    const config: ConnectConfig = {
      username: 'fleet-keyscan',
      readyTimeout: o.timeoutMs + 1000,
      algorithms: { serverHostKey: [...PROBE_TYPES[type]] } as ConnectConfig['algorithms'],
      hostVerifier: (key: Buffer) => {
        presented = Buffer.from(key);
        return true;
      },
    };
    route.sock.then(
      (s) => {
        if (settled) return void s.destroy();
        sock = s;
        s.on('error', (err: NodeJS.ErrnoException) => finish(new ProbeError(`${where}: ${`${err.code ?? ''} ${err.message}`.trim()}`, 'unreachable')));
        client.connect({ ...config, sock: s });
      },
      // A hop's failure, in its words (a refused jump host key is a refusal here too, not a timeout).
      (err: unknown) => finish(new ProbeError(err instanceof SshError ? err.message : `${where}: ${(err as Error).message}`, err instanceof SshError && err.reason === 'timeout' ? 'timeout' : 'unreachable')),
    );
  });
}

export interface ProbeResult {
  /** Keys presented, in PROBE_TYPE_NAMES order; types the server does not offer are absent. */
  keys: PresentedKey[];
  /** Set when the host could not be probed (then `keys` holds what was learned before, if anything). */
  error?: ProbeError;
}

/** Probes every requested type at once (one connection each); never rejects. */
export async function probeHostKeys(o: ProbeOptions, types: readonly ProbeType[] = PROBE_TYPE_NAMES): Promise<ProbeResult> {
  const settled = await Promise.allSettled(types.map((t) => probeHostKey(o, t)));
  const keys: PresentedKey[] = [];
  let error: ProbeError | undefined;
  for (const s of settled) {
    if (s.status === 'fulfilled') {
      if (s.value) keys.push(s.value);
    } else {
      const e = s.reason instanceof ProbeError ? s.reason : new ProbeError(String((s.reason as Error)?.message ?? s.reason), 'unreachable');
      // A timeout says more than a refusal that followed it; keep the first of the worst.
      if (!error || (error.reason !== 'timeout' && e.reason === 'timeout')) error = e;
    }
  }
  return error ? { keys, error } : { keys };
}
