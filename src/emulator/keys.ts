// Host and client key material for the emulator: ssh-keygen for the golden image, fast in-process
// ed25519/ECDSA generation (written in OpenSSH's own private key format) for per-guest unique keys.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';

export interface KeyPairText {
  /** Private key in OpenSSH format (what sshd and ssh2 read). */
  privateKey: string;
  /** One-line public key: `type base64 comment`. */
  publicKey: string;
}

/** Generates a key with the real ssh-keygen (used once per golden image / client key). */
export function sshKeygen(type: 'ed25519' | 'ecdsa' | 'rsa', file: string, comment: string): KeyPairText {
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  const bits = type === 'rsa' ? ['-b', '3072'] : type === 'ecdsa' ? ['-b', '256'] : [];
  execFileSync('ssh-keygen', ['-q', '-t', type, ...bits, '-N', '', '-C', comment, '-f', file], { stdio: 'ignore' });
  return { privateKey: readFileSync(file, 'utf8'), publicKey: readFileSync(`${file}.pub`, 'utf8').trim() };
}

function sshString(data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function sshMpint(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  let body = unsigned.subarray(i);
  if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return sshString(body);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Serializes an unencrypted `openssh-key-v1` private key (PROTOCOL.key in OpenSSH). */
function opensshPrivate(type: string, pubBlob: Buffer, privFields: Buffer, comment: string): string {
  const check = randomBytes(4);
  let priv = Buffer.concat([check, check, sshString(type), privFields, sshString(comment)]);
  const pad: number[] = [];
  for (let i = 1; (priv.length + pad.length) % 8 !== 0; i++) pad.push(i);
  priv = Buffer.concat([priv, Buffer.from(pad)]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    u32(1),
    sshString(pubBlob),
    sshString(priv),
  ]);
  const b64 = body.toString('base64').replace(/.{70}/g, '$&\n');
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

/** A fresh key pair without spawning ssh-keygen: ~0.1 ms for ed25519 instead of a process. */
export function generateHostKey(type: 'ed25519' | 'ecdsa', comment: string): KeyPairText {
  if (type === 'ed25519') {
    const { seed, pub } = ed25519Raw();
    const blob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
    const fields = Buffer.concat([sshString(pub), sshString(Buffer.concat([seed, pub]))]);
    return {
      privateKey: opensshPrivate('ssh-ed25519', blob, fields, comment),
      publicKey: `ssh-ed25519 ${blob.toString('base64')} ${comment}`,
    };
  }
  const { d, q } = p256Raw();
  const t = 'ecdsa-sha2-nistp256';
  const blob = Buffer.concat([sshString(t), sshString('nistp256'), sshString(q)]);
  const fields = Buffer.concat([sshString('nistp256'), sshString(q), sshMpint(d)]);
  return { privateKey: opensshPrivate(t, blob, fields, comment), publicKey: `${t} ${blob.toString('base64')} ${comment}` };
}

// The raw numbers are read from DER, not from a JWK export: Node exports a freshly generated key as a
// JWK while holding the key's lock and allocating, and a garbage collection that then frees the job
// which generated the key waits on that same lock, hanging the process for good.

/** An Ed25519 seed and public key: the last 32 bytes of their PKCS#8 and SPKI encodings. */
function ed25519Raw(): { seed: Buffer; pub: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  if (der.length !== 48 || spki.length !== 44) throw new Error('unexpected Ed25519 key encoding');
  return { seed: der.subarray(16), pub: spki.subarray(12) };
}

/** A P-256 private scalar and public point (04 || x || y), read from their SEC1 encoding. */
function p256Raw(): { d: Buffer; q: Buffer } {
  const der = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'der' });
  // SEQUENCE { 1, OCTET STRING (32) d, [0] curve, [1] BIT STRING 00 04 x y }
  if (der.length !== 121 || der[5] !== 0x04 || der[6] !== 0x20 || der[der.length - 65] !== 0x04) throw new Error('unexpected P-256 key encoding');
  return { d: der.subarray(7, 39), q: der.subarray(der.length - 65) };
}
