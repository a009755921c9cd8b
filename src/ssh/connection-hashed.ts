// Matching one host name against every hashed known_hosts line (`|1|salt|HMAC-SHA1(salt, name)`)
// quickly. A fan-out does this for each host against each hashed line: 500 x 1,500 HMACs. Node's
// createHmac costs ~2 us a call, mostly call overhead; here each line's keyed SHA-1 states are
// computed once, the name's message schedule once per name, and a match costs two compressions in
// plain JS (~0.3 us). Names longer than one block fall back to createHmac. Internal to connection.ts.
import { createHmac } from 'node:crypto';

const IV = Int32Array.of(0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0);

/** SHA-1's message schedule for one 64-byte block given as 16 big-endian words. */
function schedule(w: Int32Array): Int32Array {
  for (let i = 16; i < 80; i++) {
    const x = w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!;
    w[i] = (x << 1) | (x >>> 31);
  }
  return w;
}

function blockWords(bytes: Uint8Array): Int32Array {
  const w = new Int32Array(80);
  for (let i = 0; i < 16; i++) w[i] = (bytes[4 * i]! << 24) | (bytes[4 * i + 1]! << 16) | (bytes[4 * i + 2]! << 8) | bytes[4 * i + 3]!;
  return schedule(w);
}

/** One SHA-1 compression of a scheduled block into a copy of `state`. */
function compress(state: Int32Array, w: Int32Array, out: Int32Array = new Int32Array(5)): Int32Array {
  let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!, e = state[4]!;
  for (let i = 0; i < 80; i++) {
    const f = i < 20 ? (b & c) | (~b & d) : i < 40 || i >= 60 ? b ^ c ^ d : (b & c) | (b & d) | (c & d);
    const k = i < 20 ? 0x5a827999 : i < 40 ? 0x6ed9eba1 : i < 60 ? 0x8f1bbcdc | 0 : 0xca62c1d6 | 0;
    const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  out[0] = (state[0]! + a) | 0;
  out[1] = (state[1]! + b) | 0;
  out[2] = (state[2]! + c) | 0;
  out[3] = (state[3]! + d) | 0;
  out[4] = (state[4]! + e) | 0;
  return out;
}

interface Keyed {
  inner: Int32Array;
  outer: Int32Array;
  hash: Int32Array;
}

const keyedLines = new WeakMap<Buffer, Keyed>();

/** HMAC-SHA1 with this salt as key, up to the point where the message comes in. */
function keyed(salt: Buffer, hash: Buffer): Keyed {
  let k = keyedLines.get(hash);
  if (!k) {
    const pad = (x: number) => {
      const block = new Uint8Array(64).fill(x);
      for (let i = 0; i < salt.length; i++) block[i]! ^= salt[i]!;
      return compress(IV, blockWords(block));
    };
    const words = new Int32Array(5);
    for (let i = 0; i < 5; i++) words[i] = hash.readInt32BE(4 * i);
    k = { inner: pad(0x36), outer: pad(0x5c), hash: words };
    keyedLines.set(hash, k);
  }
  return k;
}

/** A test for `name` against hashed lines' (salt, hash); prepare once per name, call per line. */
export function hashedNameMatcher(name: string): (salt: Buffer, hash: Buffer) => boolean {
  const msg = Buffer.from(name, 'utf8');
  // One block holds the name after the 64-byte key block only up to 55 bytes, and salts of up to 64.
  if (msg.length > 55) return (salt, hash) => createHmac('sha1', salt).update(msg).digest().equals(hash);
  const block = new Uint8Array(64);
  block.set(msg);
  block[msg.length] = 0x80;
  new DataView(block.buffer).setUint32(60, (64 + msg.length) * 8);
  const wName = blockWords(block);
  const inner = new Int32Array(5);
  const wOuter = new Int32Array(80);
  const out = new Int32Array(5);
  return (salt, hash) => {
    if (salt.length > 64 || hash.length !== 20) return createHmac('sha1', salt).update(msg).digest().equals(hash);
    const k = keyed(salt, hash);
    compress(k.inner, wName, inner);
    wOuter.fill(0);
    wOuter.set(inner);
    wOuter[5] = 0x80000000 | 0;
    wOuter[15] = (64 + 20) * 8;
    compress(k.outer, schedule(wOuter), out);
    return out[0] === k.hash[0] && out[1] === k.hash[1] && out[2] === k.hash[2] && out[3] === k.hash[3] && out[4] === k.hash[4];
  };
}
