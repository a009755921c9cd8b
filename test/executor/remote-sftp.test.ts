// writeRemoteFile over SFTP against emulated guests: a deadline for the whole transfer (an SFTP
// request has none of its own), numeric owners and a new file's mode from the guest's umask.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepError, writeRemoteFile } from '../../src/executor/index.js';
import { loadKnownHosts, SshConnection, type KnownHosts } from '../../src/ssh/index.js';
import { startFleet, type TestFleet } from '../helpers/emulator.js';

let fleet: TestFleet;
let kh: KnownHosts;

beforeAll(async () => {
  fleet = await startFleet({ guests: 2, subnet: '127.193.0.0/16', port: 2222 });
  kh = await loadKnownHosts(fleet.emu.knownHostsPath);
});

afterAll(async () => {
  await fleet?.stop();
});

async function on<T>(index: number, work: (c: SshConnection) => Promise<T>): Promise<T> {
  const g = fleet.emu.guests[index - 1]!;
  const c = await SshConnection.connect({
    name: g.name, address: g.cfg.address, port: fleet.emu.port, knownHosts: kh,
    credentials: { username: fleet.emu.user, privateKey: fleet.clientKey }, connectTimeoutMs: 10_000,
  });
  try {
    return await work(c);
  } finally {
    c.close();
  }
}

const hostPath = (index: number, p: string) => join(fleet.emu.guests[index - 1]!.cfg.dir, p);

describe('writeRemoteFile over SFTP', () => {
  it('gives up at timeoutMs when the guest does not answer, as a timeout naming the file', async () => {
    await fleet.emu.setFault('slow:4000@1');
    let err: unknown;
    try {
      err = await on(1, (c) => writeRemoteFile(c, '/home/fleetadm/slow.txt', Buffer.from('x'), { timeoutMs: 1000 }).catch((e: unknown) => e));
    } finally {
      await fleet.emu.clearFaults();
    }
    expect(err).toBeInstanceOf(StepError);
    expect(err).toMatchObject({ status: 'timeout', host: 'guest001', path: '/home/fleetadm/slow.txt' });
    expect((err as StepError).message).toMatch(/still running after 1000 ms; stopped/);
  });

  it('sets a numeric owner and the umask\'s mode without a command, and leaves nothing beside the file', async () => {
    await on(2, async (c) => {
      expect(await writeRemoteFile(c, '/home/fleetadm/n.txt', Buffer.from('n'), { owner: ':1000' })).toEqual({ changed: true });
      expect(await writeRemoteFile(c, '/home/fleetadm/n.txt', Buffer.from('n'), { owner: '1000:1000' })).toEqual({ changed: false });
    });
    const st = statSync(hostPath(2, 'home/fleetadm/n.txt'));
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([1000, 1000, 0o644]);
    expect(readdirSync(hostPath(2, 'home/fleetadm')).filter((n) => n.includes('fleet-tmp'))).toEqual([]);
    expect(existsSync(hostPath(2, 'home/fleetadm/slow.txt'))).toBe(false);
  });
});
