// OpenSSH's sshd announces its host keys after login (hostkeys-00@openssh.com). ssh2 answered every
// announcement by asking the server to prove them (a request, a signature per key on the server, a
// verification per key here); fleet never uses the proof, so its connections no longer ask. A
// client listening for 'hostkeys' still asks. Seen from an ssh2 server.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKnownHosts, SshConnection } from '../../src/ssh/index.js';

const ADDRESS = '127.0.0.1';
const { sendPacket, writeUInt32BE } = createRequire(import.meta.url)('ssh2/lib/protocol/utils.js') as {
  sendPacket: (proto: unknown, packet: Buffer) => void;
  writeUInt32BE: (buf: Buffer, value: number, offset: number) => void;
};
const GLOBAL_REQUEST = 80;

let dir: string;
let server: InstanceType<typeof ssh2.Server>;
let port: number;
/** Per login: the global requests the client sent before answering the announcement. */
const logins: Promise<string[]>[] = [];

type Proto = {
  _handlers: Record<string, (...args: unknown[]) => void>;
  _packetRW: { write: { allocStart: number; alloc: (n: number) => Buffer; finalize: (b: Buffer) => Buffer } };
};

/** Sends hostkeys-00@openssh.com with `blob`, asking for a reply: the reply comes after any proof request. */
function announce(proto: Proto, blob: Buffer): Promise<string[]> {
  const requests: string[] = [];
  const onRequest = proto._handlers.GLOBAL_REQUEST!;
  proto._handlers.GLOBAL_REQUEST = (p, name, ...rest) => {
    requests.push(name as string);
    onRequest(p, name, ...rest);
  };
  const answered = new Promise<string[]>((resolve) => {
    const onSuccess = proto._handlers.REQUEST_SUCCESS;
    proto._handlers.REQUEST_SUCCESS = (...args) => {
      resolve([...requests]);
      onSuccess?.(...args);
    };
  });
  const name = 'hostkeys-00@openssh.com';
  let p = proto._packetRW.write.allocStart;
  const packet = proto._packetRW.write.alloc(1 + 4 + name.length + 1 + 4 + blob.length);
  packet[p] = GLOBAL_REQUEST;
  writeUInt32BE(packet, name.length, ++p);
  packet.utf8Write(name, (p += 4));
  packet[(p += name.length)] = 1; // want reply
  writeUInt32BE(packet, blob.length, ++p);
  blob.copy(packet, p + 4);
  sendPacket(proto, proto._packetRW.write.finalize(packet));
  return answered;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-hostkeys-announce-'));
  for (const name of ['host', 'client']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', join(dir, name)]);
  const hostKey = readFileSync(join(dir, 'host'));
  const parsedHost = ssh2.utils.parseKey(hostKey);
  if (parsedHost instanceof Error) throw parsedHost;
  server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
    client.on('authentication', (ctx) => ctx.accept());
    client.on('ready', () => logins.push(announce((client as unknown as { _protocol: Proto })._protocol, parsedHost.getPublicSSH())));
    client.on('error', () => {});
  });
  await new Promise<void>((ok) => server.listen(0, ADDRESS, ok));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((ok) => server?.close(ok));
  rmSync(dir, { recursive: true, force: true });
});

describe('host keys announced after login', () => {
  it('are not proved on a fleet connection', async () => {
    const hostPub = readFileSync(join(dir, 'host.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    const c = await SshConnection.connect({
      name: 'guest', address: ADDRESS, port, knownHosts: parseKnownHosts(`[${ADDRESS}]:${port} ${hostPub}\n`),
      credentials: { username: 'root', privateKey: readFileSync(join(dir, 'client')) }, connectTimeoutMs: 10_000,
    });
    try {
      expect(await logins.at(-1)).toEqual([]);
    } finally {
      c.close();
    }
  });

  it("are still proved for an ssh2 client that listens for 'hostkeys'", async () => {
    const client = new ssh2.Client();
    client.on('hostkeys', () => {});
    client.on('error', () => {});
    client.connect({ host: ADDRESS, port, username: 'root', privateKey: readFileSync(join(dir, 'client')) });
    try {
      await new Promise((ok) => client.once('ready', ok));
      // (ssh2's server cannot prove keys: the asking is what is checked.)
      expect(await logins.at(-1)).toEqual(['hostkeys-prove-00@openssh.com']);
    } finally {
      client.end();
    }
  });
});
