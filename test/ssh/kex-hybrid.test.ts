// The server half of mlkem768x25519-sha256 refuses a client's C_INIT that is not an ML-KEM-768
// encapsulation key and an X25519 public key: wrong length, an encapsulation key failing FIPS 203's
// modulus check, a low-order X25519 point. Spoken byte by byte over TCP (the first key exchange is
// in the clear), so no client code of ours can hide a fault; a good C_INIT gets a KEX reply. The
// client half refuses a short S_REPLY from a fake server.
import { generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { kexAlgorithms, MLKEM_KEX } from '../../src/ssh/kex.js';

const { Server } = ssh2;
const MSG = { DISCONNECT: 1, KEXINIT: 20, KEX_ECDH_INIT: 30, KEX_ECDH_REPLY: 31 };

const sshString = (b: Buffer | string) => {
  const data = Buffer.from(b);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
};

/** One unencrypted binary packet (RFC 4253 6): length, padding length, payload, 4+ bytes of padding. */
function packet(payload: Buffer): Buffer {
  let pad = 8 - ((5 + payload.length) % 8);
  if (pad < 4) pad += 8;
  const head = Buffer.alloc(5);
  head.writeUInt32BE(1 + payload.length + pad);
  head[4] = pad;
  return Buffer.concat([head, payload, Buffer.alloc(pad)]);
}

function kexinit(kex: string, hostKey = 'ecdsa-sha2-nistp256'): Buffer {
  const lists = [kex, hostKey, 'aes128-ctr', 'aes128-ctr', 'hmac-sha2-256', 'hmac-sha2-256', 'none', 'none', '', ''];
  return Buffer.concat([Buffer.from([MSG.KEXINIT]), Buffer.alloc(16, 7), ...lists.map((l) => sshString(l)), Buffer.from([0]), Buffer.alloc(4)]);
}

/** Sends our ident, KEXINIT and a KEX_ECDH_INIT carrying `cInit`; resolves with the server's answer to it. */
function exchange(port: number, cInit: Buffer): Promise<{ type: number; reason?: number; sReplyLength?: number }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.190.100.1', port });
    let buf = Buffer.alloc(0);
    let identSeen = false;
    let packets = 0;
    sock.setTimeout(15_000, () => (sock.destroy(), reject(new Error('no answer within 15 s'))));
    sock.on('error', reject);
    sock.on('connect', () => sock.write(Buffer.concat([Buffer.from('SSH-2.0-KexProbe\r\n'), packet(kexinit(MLKEM_KEX)), packet(Buffer.concat([Buffer.from([MSG.KEX_ECDH_INIT]), sshString(cInit)]))])));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!identSeen) {
        const eol = buf.indexOf('\r\n');
        if (eol < 0) return;
        identSeen = true;
        buf = buf.subarray(eol + 2);
      }
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const len = buf.readUInt32BE(0);
        const payload = buf.subarray(5, 4 + len - buf[4]!);
        buf = buf.subarray(4 + len);
        if (++packets === 1) continue; // the server's KEXINIT
        sock.destroy();
        const type = payload[0]!;
        if (type === MSG.DISCONNECT) {
          return resolve({ type, reason: payload.readUInt32BE(1) });
        }
        // KEX_ECDH_REPLY: string K_S, string S_REPLY, string signature
        const ks = payload.readUInt32BE(1);
        return resolve({ type, sReplyLength: payload.readUInt32BE(5 + ks) });
      }
    });
  });
}

/** Whether `data` (an ident line, then unencrypted packets) holds a whole packet of message `type`. */
function hasPacket(data: Buffer, type: number): boolean {
  let at = data.indexOf('\r\n');
  if (at < 0) return false;
  for (at += 2; at + 4 <= data.length && at + 4 + data.readUInt32BE(at) <= data.length; at += 4 + data.readUInt32BE(at)) {
    if (data[at + 5] === type) return true;
  }
  return false;
}

let server: InstanceType<typeof Server>;
/** What the server's connections failed with, as ssh2 reports it to the application. */
const serverErrors: string[] = [];
let port: number;
beforeAll(async () => {
  const hostKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' });
  server = new Server({ hostKeys: [hostKey], algorithms: { kex: kexAlgorithms() } as never }, (c) => c.on('error', (err: Error) => serverErrors.push(err.message)));
  await new Promise<void>((done) => server.listen(0, '127.190.100.1', done));
  port = (server.address() as net.AddressInfo).port;
});
afterAll(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

const x25519Public = () => generateKeyPairSync('x25519').publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
const KEY_EXCHANGE_FAILED = 3;
/** The server's error for the exchange just refused (it may land just after the DISCONNECT). */
async function nextServerError(): Promise<string> {
  for (let i = 0; i < 100 && serverErrors.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  return serverErrors.splice(0).join('; ');
}

describe('mlkem768x25519-sha256, server side', () => {
  it('answers a well-formed C_INIT with S_REPLY = ciphertext (1088) || X25519 key (32)', async () => {
    const cInit = Buffer.concat([ml_kem768.keygen().publicKey, x25519Public()]);
    expect(await exchange(port, cInit)).toEqual({ type: MSG.KEX_ECDH_REPLY, sReplyLength: 1088 + 32 });
  });

  it('refuses a C_INIT of the wrong length', async () => {
    serverErrors.length = 0;
    const r = await exchange(port, Buffer.concat([ml_kem768.keygen().publicKey, x25519Public()]).subarray(0, 1200));
    expect(r).toMatchObject({ type: MSG.DISCONNECT, reason: KEY_EXCHANGE_FAILED });
    expect(await nextServerError()).toContain('Invalid C_INIT length: 1200');
  });

  it('refuses an encapsulation key whose coefficients are not reduced (FIPS 203 modulus check)', async () => {
    const r = await exchange(port, Buffer.concat([Buffer.alloc(1184, 0xff), x25519Public()]));
    expect(r).toMatchObject({ type: MSG.DISCONNECT, reason: KEY_EXCHANGE_FAILED });
    expect(await nextServerError()).toMatch(/modulus/);
  });

  it('refuses a low-order X25519 point (an all-zero shared secret)', async () => {
    const r = await exchange(port, Buffer.concat([ml_kem768.keygen().publicKey, Buffer.alloc(32)]));
    expect(r).toMatchObject({ type: MSG.DISCONNECT, reason: KEY_EXCHANGE_FAILED });
    expect(await nextServerError()).toContain('Error while computing DH secret (mlkem768x25519)');
  });
});

describe('mlkem768x25519-sha256, client side', () => {
  it('refuses an S_REPLY of the wrong length before using it', async () => {
    // A server that answers any KEX_ECDH_INIT with a short S_REPLY, then NEWKEYS.
    const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
    const hostKeyBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(ed)]);
    const fake = net.createServer((sock) => {
      sock.on('error', () => {});
      sock.write(Buffer.concat([Buffer.from('SSH-2.0-FakeServer\r\n'), packet(kexinit(MLKEM_KEX, 'ssh-ed25519'))]));
      let seen = Buffer.alloc(0);
      sock.on('data', (d: Buffer) => {
        seen = Buffer.concat([seen, d]);
        if (!hasPacket(seen, MSG.KEX_ECDH_INIT)) return;
        sock.removeAllListeners('data');
        const sig = sshString(Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.alloc(64))]));
        sock.write(Buffer.concat([
          packet(Buffer.concat([Buffer.from([MSG.KEX_ECDH_REPLY]), sshString(hostKeyBlob), sshString(Buffer.alloc(100, 1)), sig])),
          packet(Buffer.from([21])), // NEWKEYS
        ]));
      });
    });
    await new Promise<void>((done) => fake.listen(0, '127.190.100.2', done));
    try {
      const err = await new Promise<Error>((resolve) => {
        const c = new ssh2.Client();
        c.on('error', resolve);
        c.on('ready', () => resolve(new Error('handshake completed')));
        c.connect({
          host: '127.190.100.2', port: (fake.address() as net.AddressInfo).port, username: 'x', readyTimeout: 15_000,
          algorithms: { kex: [MLKEM_KEX], serverHostKey: ['ssh-ed25519'] } as never, hostVerifier: () => true,
        });
      });
      expect(err.message).toContain('Invalid S_REPLY length: 100');
    } finally {
      fake.close();
    }
  });
});
