// An upload's WRITE requests each fit one SSH channel packet of the peer's maximum size: a request of
// 32 KiB of data and its header went out as two packets (the second nearly empty), twice the packets
// to encrypt, send and decrypt. Counted on the server's side (ssh2's own server, its debug log of the
// CHANNEL_DATA packets it receives), with a peer maximum of 32 KiB as OpenSSH's sshd announces and
// the name OpenSSH. The data of a request is copied once, into the packet that carries it (it was
// copied into a request of its own, then into the packet: twice the memory for the collector).
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKnownHosts, SshConnection } from '../../src/ssh/index.js';

const { Server, utils } = ssh2;
const { STATUS_CODE } = utils.sftp;
const ADDRESS = '127.213.0.1';

let server: InstanceType<typeof Server>;
let port: number;
const hostKey = utils.generateKeyPairSync('ed25519');
const clientKey = utils.generateKeyPairSync('ed25519');
/** Per upload: the CHANNEL_DATA packets received, the WRITE requests and the bytes they carried. */
const seen = { packets: 0, writes: 0, bytes: Buffer.alloc(0) };

beforeAll(async () => {
  server = new Server({
    hostKeys: [hostKey.private],
    // ssh2's client allows OpenSSH's larger SFTP requests only to a peer that says it is OpenSSH.
    ident: 'OpenSSH_9.2p1',
    debug: (msg: string) => {
      if (/Inbound: CHANNEL_DATA /.test(msg)) seen.packets++;
    },
  }, (client) => {
    client.on('error', () => {});
    client.on('authentication', (ctx) => (ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey'])));
    client.on('ready', () => client.on('session', (accept) => {
      accept().on('sftp', (acceptSftp) => {
        const sftp = acceptSftp();
        const handle = Buffer.from([0, 0, 0, 1]);
        const chunks: Buffer[] = [];
        sftp.on('OPEN', (id) => sftp.handle(id, handle));
        sftp.on('WRITE', (id, _h, offset: number, data: Buffer) => {
          seen.writes++;
          chunks.push(Buffer.from(data));
          expect(offset).toBe(chunks.slice(0, -1).reduce((n, c) => n + c.length, 0));
          sftp.status(id, STATUS_CODE.OK);
        });
        sftp.on('FSTAT', (id) => sftp.attrs(id, { mode: 0o100600, uid: 1000, gid: 1000, size: 0, atime: 0, mtime: 0 }));
        sftp.on('FSETSTAT', (id) => sftp.status(id, STATUS_CODE.OK));
        sftp.on('CLOSE', (id) => {
          seen.bytes = Buffer.concat(chunks);
          sftp.status(id, STATUS_CODE.OK);
        });
      });
    }));
  });
  await new Promise<void>((done) => server.listen(0, ADDRESS, done));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

describe('uploadNew', () => {
  it('sends 1 MiB in WRITE requests of one channel packet each', async () => {
    const conn = await SshConnection.connect({
      name: 'g', address: ADDRESS, port, connectTimeoutMs: 10_000,
      knownHosts: parseKnownHosts(`[${ADDRESS}]:${port} ${hostKey.public}\n`),
      credentials: { username: 'u', privateKey: Buffer.from(clientKey.private) },
    });
    try {
      const data = Buffer.alloc(1 << 20);
      for (let i = 0; i < data.length; i += 4) data.writeUInt32BE(i, i);
      await conn.files(); // the session's own packets (its start, VERSION) are not the upload's
      seen.packets = 0;
      await conn.uploadNew('/f', data, { mode: 0o644, fsync: false });
      expect(createHash('sha256').update(seen.bytes).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
      // Each WRITE its own packet, plus OPEN, FSTAT, FSETSTAT and CLOSE: no request split in two.
      expect(seen.packets).toBe(seen.writes + 4);
      expect(seen.writes).toBe(33); // 32 KiB less the request's 29 bytes of header per write
    } finally {
      conn.close();
    }
  });

  it('copies the data of a WRITE request once, into the packet it is sent in', async () => {
    const conn = await SshConnection.connect({
      name: 'g', address: ADDRESS, port, connectTimeoutMs: 10_000,
      knownHosts: parseKnownHosts(`[${ADDRESS}]:${port} ${hostKey.public}\n`),
      credentials: { username: 'u', privateKey: Buffer.from(clientKey.private) },
    });
    const allocUnsafe = Buffer.allocUnsafe;
    try {
      const sftp = await conn.files();
      // Buffers allocated while the client's write() runs (the server answers later, on its own turns).
      let inWrite = false;
      let allocated = 0;
      Buffer.allocUnsafe = (size: number) => {
        if (inWrite) allocated += size;
        return allocUnsafe(size);
      };
      const write = sftp.write.bind(sftp);
      sftp.write = ((...args: Parameters<typeof sftp.write>) => {
        inWrite = true;
        try {
          return write(...args);
        } finally {
          inWrite = false;
        }
      }) as typeof sftp.write;
      const data = Buffer.alloc(1 << 20, 7);
      await conn.uploadNew('/g', data, { mode: 0o644, fsync: false });
      expect(seen.bytes.equals(data)).toBe(true);
      // At most once (the data, and per request its headers and the packet's padding and tag); less
      // when the cipher encrypts a packet in the buffer of one the socket already took (packet-buffers.test.ts).
      expect(allocated).toBeLessThan(data.length * 1.05);
    } finally {
      Buffer.allocUnsafe = allocUnsafe;
      conn.close();
    }
  });
});
