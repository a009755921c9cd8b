// ssh2's AES-GCM cipher (as patched at install) encrypts a large packet in the buffer of the one
// before once the socket has taken that one whole, instead of allocating each anew: a file upload
// no longer leaves its size again in packets to the garbage collector. What goes out still decrypts
// to what was sent, and a packet the socket may still hold is never written over. The client says
// "taken whole" only for a plain TCP socket that queued nothing.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
// ssh2's own cipher module (no public export): the code the patch changes.
const { CIPHER_INFO, createCipher, createDecipher } = require('ssh2/lib/protocol/crypto.js') as {
  CIPHER_INFO: Record<string, { keyLen: number; ivLen: number }>;
  createCipher: (c: object) => { allocPacket(n: number): Buffer; encrypt(p: Buffer): void; free(): void };
  createDecipher: (c: object) => { decrypt(d: Buffer, p: number, n: number): void };
};

const info = CIPHER_INFO['aes128-gcm@openssh.com']!;
const key = randomBytes(info.keyLen);
const iv = randomBytes(info.ivLen);

/** Sends `payloads` through a cipher whose socket says `taken` for each; what the peer decrypts, and the buffers used. */
function send(payloads: Buffer[], taken: (i: number) => boolean) {
  const wire: Buffer[] = [];
  const buffers: ArrayBufferLike[] = [];
  let i = 0;
  const cipher = createCipher({
    outbound: {
      seqno: 0, cipherInfo: info, cipherKey: key, cipherIV: iv,
      onWrite: (data: Buffer) => {
        wire.push(Buffer.from(data)); // what the kernel copies
        buffers.push(data.buffer);
        return taken(i++);
      },
    },
  });
  for (const payload of payloads) {
    const packet = cipher.allocPacket(payload.length);
    payload.copy(packet, 5);
    cipher.encrypt(packet);
  }
  cipher.free();
  const received: Buffer[] = [];
  const decipher = createDecipher({
    inbound: { seqno: 0, decipherInfo: info, decipherKey: key, decipherIV: iv, onPayload: (p: Buffer) => void received.push(Buffer.from(p)) },
  });
  const all = Buffer.concat(wire);
  decipher.decrypt(all, 0, all.length);
  return { received, buffers };
}

describe('AES-GCM packets', () => {
  const payloads = [32_000, 32_000, 1_000, 32_000, 20_000, 32_000].map((n) => randomBytes(n));

  it('reuse the buffer of a large packet the socket took whole, and decrypt to what was sent', () => {
    const { received, buffers } = send(payloads, () => true);
    expect(received).toEqual(payloads);
    // The small packet (1,000 bytes) gets a buffer of its own; every large one the first's.
    expect(new Set([0, 1, 3, 4, 5].map((i) => buffers[i])).size).toBe(1);
    expect(buffers[2]).not.toBe(buffers[0]);
  });

  it('never write over a packet the socket may still hold', () => {
    const { received, buffers } = send(payloads, (i) => i !== 1);
    expect(received).toEqual(payloads);
    // Packet 1 was not taken whole: packet 3 must not use its buffer (nor packet 0's, lent to packet 1).
    expect(buffers[1]).toBe(buffers[0]);
    expect(buffers[3]).not.toBe(buffers[1]);
    expect(new Set(buffers).size).toBe(3);
  });
});
