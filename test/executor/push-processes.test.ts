// What a push costs a guest in processes, counted on a real OpenSSH sshd in a PID namespace of its
// own (PIDs there are handed out one after another): a first push no more than OpenSSH's scp, an
// unchanged one at most one more, a changed one of another size no more than scp.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRemoteFile, type WriteRemoteOptions } from '../../src/executor/index.js';
import { loadKnownHosts, SshConnection, type KnownHosts } from '../../src/ssh/index.js';
import { startRealSshd, type RealSshd } from '../helpers/real-sshd.js';

let sshd: RealSshd;
let kh: KnownHosts;
let khPath: string;
let scratch: string;

beforeAll(async () => {
  sshd = await startRealSshd('127.194.0.1', 2222, { pidNamespace: true, leanShell: true });
  khPath = join(sshd.dir, 'known_hosts');
  writeFileSync(khPath, `[${sshd.address}]:${sshd.port} ssh-ed25519 ${sshd.hostKey}\n`);
  kh = await loadKnownHosts(khPath);
  scratch = join(sshd.dir, 'scratch');
  mkdirSync(scratch);
});

afterAll(async () => {
  await sshd?.stop();
});

const connect = () => SshConnection.connect({
  name: 'real', address: sshd.address, port: sshd.port, knownHosts: kh,
  credentials: { username: sshd.user, privateKey: sshd.clientKey }, connectTimeoutMs: 10_000,
});

async function lastPid(): Promise<number> {
  const c = await connect();
  try {
    return Number((await c.exec('echo $$')).stdout.toString().trim());
  } finally {
    c.close();
  }
}

/** PIDs the guest handed out while `work` ran, less those of the probes around it. */
async function pidsDuring(work: () => Promise<unknown>): Promise<number> {
  const before = await lastPid();
  await work();
  return (await lastPid()) - before;
}

/** Guest processes `work` costs beyond a connection that logs in and does nothing. */
async function processesOf(work: (c: SshConnection) => Promise<unknown>): Promise<number> {
  const session = async (w: (c: SshConnection) => Promise<unknown>) => {
    const c = await connect();
    try {
      await w(c);
    } finally {
      c.close();
      await new Promise<void>((resolve) => c.onClose(resolve));
    }
  };
  const idle = await pidsDuring(() => session(async () => {}));
  return (await pidsDuring(() => session(work))) - idle;
}

const scp = (local: string, remote: string) => execa('scp', [
  '-F', '/dev/null', '-i', join(sshd.dir, 'client_key'), '-P', String(sshd.port), '-o', `UserKnownHostsFile=${khPath}`,
  '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-q', local, `${sshd.user}@${sshd.address}:${remote}`,
]);

describe('the processes a push costs a guest (OpenSSH sshd)', () => {
  it('a first push: no more than scp; unchanged: at most one more; a new size: no more than scp', async () => {
    const local = join(sshd.dir, 'payload');
    writeFileSync(local, randomBytes(256 << 10));
    const data = readFileSync(local);
    const ofScp = await processesOf(() => scp(local, join(scratch, 'by-scp')));
    expect(readFileSync(join(scratch, 'by-scp')).equals(data)).toBe(true);
    const opts: WriteRemoteOptions = {};
    const target = join(scratch, 'by-fleet');
    const first = await processesOf((c) => writeRemoteFile(c, target, data, opts));
    expect(readFileSync(target).equals(data)).toBe(true);
    const unchanged = await processesOf(async (c) => expect(await writeRemoteFile(c, target, data, opts)).toEqual({ changed: false }));
    const bigger = Buffer.concat([data, Buffer.from('more')]);
    const resized = await processesOf(async (c) => expect(await writeRemoteFile(c, target, bigger, opts)).toEqual({ changed: true }));
    expect(readFileSync(target).equals(bigger)).toBe(true);
    expect({ first, unchanged, resized }).toEqual({ first: expect.any(Number), unchanged: expect.any(Number), resized: expect.any(Number) });
    expect(first).toBeLessThanOrEqual(ofScp);
    expect(unchanged).toBeLessThanOrEqual(ofScp + 1);
    expect(resized).toBeLessThanOrEqual(ofScp);
  });

  it('keeps mode and numeric owner over SFTP, with no command on the guest', async () => {
    const target = join(scratch, 'owned');
    const data = Buffer.from('owned\n');
    const ofScp = await processesOf(() => scp(join(sshd.dir, 'payload'), join(scratch, 'by-scp-2')));
    const first = await processesOf((c) => writeRemoteFile(c, target, data, { mode: 0o640, owner: '123:456' }));
    const st = await execa('stat', ['-c', '%a %u %g', target]);
    expect(st.stdout).toBe('640 123 456');
    expect(first).toBeLessThanOrEqual(ofScp);
  });
});
