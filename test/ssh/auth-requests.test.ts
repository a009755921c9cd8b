// Public-key login sends its signed request at once (RFC 4252 section 7), without first asking
// whether the key would do: one round trip less per connection. Counted on an ssh2 server.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKnownHosts, SshConnection, SshError } from '../../src/ssh/index.js';

const ADDRESS = '127.204.9.1';
let dir: string;
let server: InstanceType<typeof ssh2.Server>;
let port: number;
const seen: ('query' | 'signed')[] = [];

const keygen = (name: string) => {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', join(dir, name)]);
  return readFileSync(join(dir, name));
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-auth-requests-'));
  const hostKey = keygen('host');
  keygen('client');
  keygen('other');
  const allowed = ssh2.utils.parseKey(readFileSync(join(dir, 'client.pub')));
  if (allowed instanceof Error) throw allowed;
  server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
      seen.push(ctx.signature ? 'signed' : 'query');
      const same = ctx.key.algo === allowed.type && ctx.key.data.equals(allowed.getPublicSSH());
      if (!same) return ctx.reject(['publickey']);
      if (!ctx.signature) return ctx.accept();
      return allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true ? ctx.accept() : ctx.reject(['publickey']);
    });
    client.on('ready', () => client.end());
    client.on('error', () => {});
  });
  await new Promise<void>((ok) => server.listen(0, ADDRESS, ok));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((ok) => server?.close(ok));
  rmSync(dir, { recursive: true, force: true });
});

async function login(keyFile: string): Promise<string> {
  const hostPub = readFileSync(join(dir, 'host.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  try {
    const c = await SshConnection.connect({
      name: 'guest', address: ADDRESS, port, knownHosts: parseKnownHosts(`[${ADDRESS}]:${port} ${hostPub}\n`),
      credentials: { username: 'root', privateKey: readFileSync(join(dir, keyFile)) }, connectTimeoutMs: 10_000,
    });
    c.close();
    return 'ok';
  } catch (err) {
    return err instanceof SshError ? err.reason : String(err);
  }
}

describe('public-key login', () => {
  it('sends one signed request, no query first', async () => {
    seen.length = 0;
    expect(await login('client')).toBe('ok');
    expect(seen).toEqual(['signed']);
  });

  it('is still refused with a key the guest does not know', async () => {
    seen.length = 0;
    expect(await login('other')).toBe('auth-refused');
    expect(seen).toEqual(['signed']);
  });
});
