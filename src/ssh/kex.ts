// Key exchange algorithms offered by fleet's client and the emulator's servers: the post-quantum
// hybrid mlkem768x25519-sha256 first, then ssh2's defaults (curve25519-sha256 leading) for peers
// without it. ssh2 learns the hybrid from patches/ssh2+<version>.patch, applied at install.
import { createRequire } from 'node:module';

/**
 * ML-KEM-768 with X25519 (draft-ietf-sshm-mlkem-hybrid-kex; OpenSSH 9.9+'s default). OpenSSH 9.0-9.8
 * offer sntrup761x25519 instead, which fleet cannot speak: no maintained JS implementation.
 */
export const MLKEM_KEX = 'mlkem768x25519-sha256';
const CURVE25519_KEX = 'curve25519-sha256';

let offered: string[] | undefined;

/**
 * The list to offer, most preferred first. Throws when ssh2 was installed without its patch (an
 * install with --ignore-scripts): connecting would otherwise fail with ssh2's "Unsupported algorithm".
 */
export function kexAlgorithms(): string[] {
  if (offered) return offered;
  const { DEFAULT_KEX, SUPPORTED_KEX } = createRequire(import.meta.url)('ssh2/lib/protocol/constants.js') as {
    DEFAULT_KEX: string[];
    SUPPORTED_KEX: string[];
  };
  if (!SUPPORTED_KEX.includes(MLKEM_KEX)) {
    throw new Error(`ssh2 does not know ${MLKEM_KEX}: its patch was not applied (npm ci or npm install applies it; node scripts/patch-deps.mjs does it alone)`);
  }
  // curve25519 under its RFC 8731 name before the libssh.org alias ssh2 puts first: the same exchange,
  // named as OpenSSH names it.
  const rest = DEFAULT_KEX.filter((k) => k !== MLKEM_KEX && k !== CURVE25519_KEX);
  offered = [MLKEM_KEX, ...(DEFAULT_KEX.includes(CURVE25519_KEX) ? [CURVE25519_KEX] : []), ...rest];
  return offered;
}
