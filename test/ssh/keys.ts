// Test helpers: synthetic SSH public key blobs and their known_hosts text.

/** An SSH wire-format string: uint32 length then bytes. */
function sshString(data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

/** A well-formed ed25519 public key blob whose 32 key bytes are all `fill`. */
export function ed25519(fill: number): Buffer {
  return Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(Buffer.alloc(32, fill))]);
}

/**
 * A blob of another type with that type's fields (an RSA key: exponent and modulus), content not a
 * real key: only the framing matters, and it must be whole (a truncated key is no pin).
 */
export function blob(type: string, fill: number): Buffer {
  const fields = type === 'ssh-rsa' ? [Buffer.from([1, 0, 1]), Buffer.alloc(48, fill)] : [Buffer.alloc(48, fill)];
  return Buffer.concat([sshString(Buffer.from(type)), ...fields.map(sshString)]);
}

export const b64 = (key: Buffer) => key.toString('base64');
