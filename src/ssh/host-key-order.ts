// Which host key algorithms a connection asks for, in what order. A server presents one key, the
// first of the client's algorithms it has; pinning only that one type would make every other type a
// false "changed" alarm. So, as OpenSSH does, the algorithms of the keys pinned for the host go
// first and the rest keep ssh2's order (still offered: a host re-keyed to another type is judged,
// not refused at negotiation). A pinned key that is also @revoked still counts, as in OpenSSH: the host
// is asked for that key and refused for it, rather than quietly reached with another type.
import type { ConnectConfig } from 'ssh2';
import { lookup, type KnownHosts } from './known-hosts.js';

/** ssh2's default list (on a Node with ed25519), strongest first. */
export const DEFAULT_HOST_KEY_ALGORITHMS = [
  'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa',
] as const;

/** The algorithms a pinned key of `keyType` can sign the exchange with (an RSA key: three). */
function algorithmsOf(keyType: string): readonly string[] {
  if (keyType === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return DEFAULT_HOST_KEY_ALGORITHMS.includes(keyType as never) ? [keyType] : [];
}

/** The full list, pinned types first; undefined when that is the default order (ssh2 keeps its shared setup). */
export function hostKeyAlgorithms(kh: KnownHosts, host: string, port: number): ConnectConfig['algorithms'] | undefined {
  const found = lookup(kh, host, port);
  const preferred = new Set([...found.pinned, ...found.revokedPins].flatMap((p) => algorithmsOf(p.keyType)));
  if (preferred.size === 0) return undefined;
  const order = [
    ...DEFAULT_HOST_KEY_ALGORITHMS.filter((a) => preferred.has(a)),
    ...DEFAULT_HOST_KEY_ALGORITHMS.filter((a) => !preferred.has(a)),
  ];
  if (order.every((a, i) => a === DEFAULT_HOST_KEY_ALGORITHMS[i])) return undefined;
  return { serverHostKey: order } as ConnectConfig['algorithms'];
}
