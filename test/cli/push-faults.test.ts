// `fleet push` when links fail at awkward moments: every operation settles once its connection is
// gone, temporary files are removed even over a dying link, a drop after the rename is checked over a
// new connection, and a command that loses track of guests still reports them (never exit 13).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { connect as connectTcp, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountForLost } from '../../src/cli/in-flight.js';
import { cleanup } from '../../src/executor/remote-steps.js';
import { loadKnownHosts, SshConnection, type KnownHosts } from '../../src/ssh/index.js';
import { knownHostsLines, startFleet, type TestFleet } from '../helpers/emulator.js';
import { fleet, jsonLines } from './cli-harness.js';

let tf: TestFleet;
let kh: KnownHosts;
let local: string;

beforeAll(async () => {
  tf = await startFleet({ guests: 6, subnet: '127.135.0.0/16', port: 2222 });
  kh = await loadKnownHosts(tf.emu.knownHostsPath);
  local = join(tf.state, 'motd');
  writeFileSync(local, 'pushed over a shaky link\n');
});

afterAll(async () => {
  await tf?.stop();
});

const sel = () => ['-i', tf.emu.inventoryPath, '--identity', tf.emu.clientKeyPath];
const guestFile = (i: number, p: string) => join(tf.emu.guests[i - 1]!.cfg.dir, p);
const strays = (i: number, dir: string) => readdirSync(guestFile(i, dir)).filter((n) => /fleet-tmp|fleet-push/.test(n));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function connectTo(index: number): Promise<SshConnection> {
  const g = tf.emu.guests[index - 1]!;
  return SshConnection.connect({
    name: g.name, address: g.cfg.address, port: tf.emu.port, knownHosts: kh,
    credentials: { username: tf.emu.user, privateKey: tf.clientKey }, connectTimeoutMs: 10_000,
  });
}

/** How a promise ends; 'pending' if it has not within `ms` (a bound for a broken build, not a measure). */
function outcome(p: Promise<unknown>, ms = 10_000): Promise<'resolved' | 'rejected' | 'pending'> {
  return Promise.race([p.then(() => 'resolved' as const, () => 'rejected' as const), sleep(ms).then(() => 'pending' as const)]);
}

const sameFile = (a: string, b: string) => {
  try {
    return readFileSync(a).equals(readFileSync(b));
  } catch {
    return false;
  }
};

/** Waits for `cond` (bounded, so that a broken build fails here rather than at the test's timeout). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !cond(); waited += 20) {
    if (waited > 30_000) throw new Error(`still waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * A TCP relay in front of one guest, reached at its own address (with its own inventory and
 * known_hosts lines), that can hold back the guest's answers: the guest then acts on what it was sent
 * while the client hears nothing, until the relay cuts the link.
 */
async function relayTo(i: number, address: string): Promise<{
  args: string[];
  /** Holds the guest's answers from the first one that arrives once `cond` holds. */
  holdWhen: (cond: () => boolean) => void;
  cut: (refuseNew?: boolean) => Promise<void>;
  close: () => Promise<void>;
}> {
  const guest = tf.emu.guests[i - 1]!;
  const links = new Set<Socket>();
  let holdWhen: (() => boolean) | undefined;
  const server = createServer((client) => {
    const upstream = connectTcp({ host: guest.cfg.address, port: tf.emu.port });
    let held = false;
    links.add(client).add(upstream);
    for (const s of [client, upstream]) s.on('error', () => {}).on('close', () => (client.destroy(), upstream.destroy()));
    client.on('data', (d: Buffer) => upstream.write(d));
    upstream.on('data', (d: Buffer) => {
      if (holdWhen?.()) held = true;
      if (!held) client.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(tf.emu.port, address, resolve));
  const dir = mkdtempSync(join(tf.state, 'relay-'));
  writeFileSync(join(dir, 'hosts'), `[relayed]\n${guest.name} ansible_host=${address} ansible_port=${tf.emu.port}\n`);
  const pattern = tf.emu.hostPattern(guest);
  writeFileSync(join(dir, 'known_hosts'), knownHostsLines(tf, i).map((l) => `[${address}]:${tf.emu.port}${l.slice(pattern.length)}\n`).join(''));
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return {
    args: ['-i', join(dir, 'hosts'), '--known-hosts', join(dir, 'known_hosts'), '-u', tf.emu.user, '--identity', tf.emu.clientKeyPath],
    holdWhen: (cond) => (holdWhen = cond),
    async cut(refuseNew = false) {
      // The listener closes once its last link is gone: stop it first, cut, then wait for it.
      const closed = refuseNew ? close() : undefined;
      holdWhen = undefined;
      for (const s of links) s.destroy();
      await closed;
    },
    close,
  };
}

describe('file operations over a connection that is gone', () => {
  it('settle with an error instead of waiting forever', async () => {
    const conn = await connectTo(1);
    expect(await conn.hasSftpExtension('posix-rename@openssh.com')).toBe(true);
    const closed = new Promise<void>((resolve) => conn.onClose(resolve));
    conn.destroy();
    await closed;
    // ssh2 queues a request made on a closed session and never answers it.
    expect(await outcome(conn.renameOver('/tmp/a', '/tmp/b'))).toBe('rejected');
    expect(await outcome(conn.statFile('/etc/hostname'))).toBe('rejected');
    expect(await outcome(conn.uploadNew('/tmp/x', Buffer.from('x'), { mode: 0o644 }))).toBe('rejected');
    expect(await outcome(conn.unlink('/tmp/x'))).toBe('rejected');
  });

  it('remove temporary files over a new connection when this one is closing', async () => {
    writeFileSync(guestFile(2, 'home/fleetadm/.f.fleet-tmp-000000000000'), 'partial');
    const conn = await connectTo(2);
    conn.close(); // ending: the guest has not answered yet, so the connection is not closed
    expect(await cleanup(conn, ['/home/fleetadm/.f.fleet-tmp-000000000000'], false)).toBe(true);
    expect(strays(2, 'home/fleetadm')).toEqual([]);
  });
});

describe('fleet push when the link drops', () => {
  // Holding the guest's answers from the moment the new file is in place leaves the rename done and
  // its reply unheard, whatever the transfer.
  const inPlace = (i: number, f: string) => () => sameFile(guestFile(i, 'home/fleetadm/conf'), f);

  it('checks over a new connection when the link dropped after the rename, and reports ok', async () => {
    const file = join(tf.state, 'conf-a');
    writeFileSync(file, randomBytes(1 << 20));
    const relay = await relayTo(3, '127.137.0.3');
    try {
      relay.holdWhen(inPlace(3, file));
      const pushing = fleet('push', ...relay.args, '--json', '--timeout', '60', file, '/home/fleetadm/conf');
      await until(() => sameFile(guestFile(3, 'home/fleetadm/conf'), file), 'the new file on guest003');
      await relay.cut();
      const r = await pushing;
      expect(jsonLines(r.out)[0]).toMatchObject({ host: 'guest003', status: 'ok', changed: true });
      expect(r.code).toBe(0);
    } finally {
      await relay.close().catch(() => {});
    }
    expect(strays(3, 'home/fleetadm')).toEqual([]);
  });

  it('says the outcome is unknown when the guest cannot be reached again to check', async () => {
    const file = join(tf.state, 'conf-b');
    writeFileSync(file, randomBytes(1 << 20));
    const relay = await relayTo(4, '127.137.0.4');
    relay.holdWhen(inPlace(4, file));
    const pushing = fleet('push', ...relay.args, '--json', '--timeout', '60', file, '/home/fleetadm/conf');
    await until(() => sameFile(guestFile(4, 'home/fleetadm/conf'), file), 'the new file on guest004');
    await relay.cut(true);
    const r = await pushing;
    expect(jsonLines(r.out)[0]).toMatchObject({
      host: 'guest004', status: 'unreachable',
      // The guest's answer to the rename never came: for all fleet knows it did not happen.
      error: expect.stringMatching(/^guest004: \/home\/fleetadm\/conf: (upload|install): connection lost; .*outcome unknown: the file may be in place \(could not verify over a new connection: .*ECONNREFUSED/),
    });
    expect(r.code).toBe(1);
  });

  it('says what it found when the link dropped before the rename', async () => {
    const big = join(tf.state, 'big.bin');
    writeFileSync(big, randomBytes(64 << 20));
    writeFileSync(guestFile(5, 'home/fleetadm/big.bin'), 'old');
    const probe = jsonLines((await fleet('run', ...sel(), 'guest005', '--json', '--', 'true')).out)[0]!;
    await tf.emu.setFault(`drop:${Math.max(300, 3 * probe.durationMs)}@5`);
    let r;
    try {
      r = await fleet('push', ...sel(), 'guest005', '--json', big, '/home/fleetadm/big.bin');
    } finally {
      await tf.emu.clearFaults();
    }
    const row = jsonLines(r.out)[0]!;
    // A fast machine may finish 64 MiB before the drop; otherwise the guest keeps the old file.
    if (row.status !== 'ok') {
      expect(row).toMatchObject({ status: 'unreachable', error: expect.stringMatching(/: upload: connection lost; verified over a new connection: the file does not have the new content/) });
      expect(readFileSync(guestFile(5, 'home/fleetadm/big.bin'), 'utf8')).toBe('old');
    }
    expect(strays(5, 'home/fleetadm')).toEqual([]);
  });
});

describe('fleet push through a man in the middle holding the cloned key', () => {
  it('completes over SFTP: the relay is invisible, as it is to ssh', async () => {
    const big = join(tf.state, 'big-mitm.bin');
    writeFileSync(big, randomBytes(20 << 20));
    await tf.emu.setFault('mitm@1');
    try {
      const r = await fleet('push', ...sel(), 'guest001', '--json', '--timeout', '20', big, '/home/fleetadm/big-mitm.bin');
      expect(jsonLines(r.out)[0]).toMatchObject({ host: 'guest001', status: 'ok', changed: true });
    } finally {
      await tf.emu.clearFaults();
    }
    expect(sameFile(guestFile(1, 'home/fleetadm/big-mitm.bin'), big)).toBe(true);
  });
});

describe('fleet push after an earlier push was cut off', () => {
  it('removes the temporary files nobody has written to for a while, and only those', async () => {
    const dir = guestFile(2, 'home/fleetadm');
    const abandoned = join(dir, '.motd.fleet-tmp-0123456789ab');
    const inFlight = join(dir, '.motd.fleet-tmp-ba9876543210');
    const otherFile = join(dir, '.other.fleet-tmp-0123456789ab');
    for (const f of [abandoned, inFlight, otherFile]) writeFileSync(f, 'partial');
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(abandoned, hourAgo, hourAgo);
    utimesSync(otherFile, hourAgo, hourAgo);
    const r = await fleet('push', ...sel(), 'guest002', '--json', local, '/home/fleetadm/motd');
    expect(jsonLines(r.out)[0]).toMatchObject({ host: 'guest002', status: 'ok' });
    expect(strays(2, 'home/fleetadm').sort()).toEqual(['.motd.fleet-tmp-ba9876543210', '.other.fleet-tmp-0123456789ab']);
  });
});

describe('a command that loses track of guests', () => {
  it('reports the finished ones and the lost ones as failures, and exits 1', async () => {
    await tf.emu.setFault('slow:20000@6');
    try {
      const pushing = fleet('push', ...sel(), 'guest001,guest006', '--json', '--timeout', '60', local, '/home/fleetadm/lost');
      await until(() => accountForLost()?.lost.join() === 'guest006', 'guest001 to finish');
      // What Node does when nothing is left to wait for while guest006's work is still pending.
      process.emit('beforeExit', 0);
      const r = await pushing;
      expect(r.code).toBe(1);
      const rows = jsonLines(r.out);
      expect(rows.slice(0, 2)).toMatchObject([
        { host: 'guest001', status: 'ok' },
        { host: 'guest006', status: 'failed', error: expect.stringMatching(/^guest006: lost track of this guest/) },
      ]);
      expect(rows[2]!.summary).toMatchObject({ ok: 1, failed: 1, total: 2 });
      expect(r.err).toContain('fleet: lost track of 1 guest (guest006)');
    } finally {
      await tf.emu.clearFaults();
    }
  });
});
