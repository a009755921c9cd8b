// Key identity: SHA256 fingerprints exactly as `ssh-keygen -l` prints them, and the type named inside a key blob.
import { createHash } from 'node:crypto';

/** `SHA256:` + unpadded base64 of the SHA-256 of the public key blob (the wire format, not the text line). */
export function fingerprintSha256(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * The key type a public key blob declares in its first field (`ssh-ed25519`, `ssh-rsa`, ...), or null
 * when the blob is too short or the name is not printable ASCII: such a blob is not an SSH public key.
 */
export function keyTypeOfBlob(keyBlob: Buffer): string | null {
  if (keyBlob.length < 4) return null;
  const len = keyBlob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > keyBlob.length) return null;
  const name = keyBlob.subarray(4, 4 + len).toString('latin1');
  return /^[\x21-\x7e]+$/.test(name) ? name : null;
}
