// Jump hosts and ProxyCommand against real OpenSSH sshds on loopback in front of emulated guests:
// one login on the jump host for many guests (its log shows one session and a forwarded channel per
// guest), a chain of two jumps, every hop pinned (unknown or changed key refused, naming the hop),
// failures naming the hop that failed, and a ProxyCommand carrying a pinned guest connection.
import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pLimit from 'p-limit';
import {
  addPin, loadKnownHosts, parseKnownHosts, probeHostKeys, removePins, SshConnection, type ConnectOptions,
  type JumpHop, type KnownHosts,
} from '../../src/ssh/index.js';
import { startFleet, type TestFleet } from '../helpers/emulator.js';
import { startRealSshd, type RealSshd } from '../helpers/real-sshd.js';
import { fleet, jsonLines } from '../cli/cli-harness.js';
import { channels, failure, jumpsClosed, logins, sinceMark } from '../helpers/jump.js';

const PORT = 2222;
const GUESTS = 13;
const guestAddr = (i: number) => `127.163.0.${i}`;
/** Nothing listens there; jump host A may forward to it. */
const DEAD = '127.163.0.200';
/** Guest 13 is not in A's PermitOpen: A refuses to forward to it. */
const NOT_PERMITTED = 13;

let tf: TestFleet;
let a: RealSshd;
let b: RealSshd;
let dir: string;
let pinned: KnownHosts;

const hopA = (): JumpHop => ({ host: 'bastion-a', address: a.address, port: a.port, user: 'root', identityFiles: [join(a.dir, 'client_key')] });
const hopB = (): JumpHop => ({ host: 'bastion-b', address: b.address, port: b.port, user: 'root', identityFiles: [join(b.dir, 'client_key')] });

function guest(i: number, extra: Partial<ConnectOptions> = {}): ConnectOptions {
  return {
    name: `guest${i}`, address: guestAddr(i), port: PORT, knownHosts: pinned,
    credentials: { username: tf.emu.user, privateKey: tf.clientKey }, connectTimeoutMs: 15_000, ...extra,
  };
}

async function run(o: ConnectOptions, command = 'hostname'): Promise<string> {
  const c = await SshConnection.connect(o);
  try {
    const r = await c.exec(command, { timeoutMs: 15_000 });
    return `${r.exitCode}:${r.stdout.toString().trim()}`;
  } finally {
    c.close();
  }
}

beforeAll(async () => {
  tf = await startFleet({ guests: GUESTS, subnet: '127.163.0.0/16', port: PORT });
  b = await startRealSshd('127.164.0.2', PORT, { logLevel: 'DEBUG1' });
  const permitted = [...Array.from({ length: GUESTS - 1 }, (_, i) => `${guestAddr(i + 1)}:${PORT}`), `${DEAD}:${PORT}`, `${b.address}:${b.port}`];
  a = await startRealSshd('127.164.0.1', PORT, { logLevel: 'DEBUG1', config: [`PermitOpen ${permitted.join(' ')}`] });
  dir = mkdtempSync(join(tmpdir(), 'fleet-jump-'));
  pinned = await loadKnownHosts(tf.emu.knownHostsPath);
  addPin(pinned, a.address, a.port, 'ssh-ed25519', Buffer.from(a.hostKey, 'base64'));
  addPin(pinned, b.address, b.port, 'ssh-ed25519', Buffer.from(b.hostKey, 'base64'));
}, 60_000);

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await tf?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('through one jump host', () => {
  it('reaches every guest over one login on the jump host, a forwarded channel per guest', async () => {
    const log = sinceMark(a);
    const limit = pLimit(4);
    const ids = Array.from({ length: GUESTS - 1 }, (_, i) => i + 1);
    // Guests with keys of their own still share the jump host, which has its own identity file.
    const own = (i: number) => ({ username: tf.emu.user, privateKey: i % 2 ? tf.clientKey : Buffer.from(tf.clientKey) });
    const out = await Promise.all(ids.map((i) => limit(() => run(guest(i, { jump: [hopA()], credentials: own(i) })))));
    expect(out.every((o) => o.startsWith('0:'))).toBe(true);
    await jumpsClosed();
    expect(logins(log())).toBe(1);
    expect(channels(log()).sort()).toEqual(ids.map((i) => `${guestAddr(i)}:${PORT}`).sort());
  });

  it('closes the jump connection when the last guest is done, and opens a new one for the next run', async () => {
    const log = sinceMark(a);
    expect(await run(guest(1, { jump: [hopA()] }))).toMatch(/^0:/);
    await jumpsClosed();
    expect(await run(guest(2, { jump: [hopA()] }))).toMatch(/^0:/);
    await jumpsClosed();
    expect(logins(log())).toBe(2);
  });

  it('still pins the guest behind the jump host', async () => {
    const kh = parseKnownHosts(readFileSync(tf.emu.knownHostsPath));
    removePins(kh, guestAddr(3), PORT);
    addPin(kh, a.address, a.port, 'ssh-ed25519', Buffer.from(a.hostKey, 'base64'));
    const log = sinceMark(a);
    const err = await failure(guest(3, { knownHosts: kh, jump: [hopA()] }));
    expect(err.reason).toBe('hostkey-refused');
    expect(err.message).toMatch(/^host key of guest3 \(127\.163\.0\.3:2222\) is not pinned/);
    expect(channels(log())).toEqual([`${guestAddr(3)}:${PORT}`]);
    await jumpsClosed();
  });
});

describe('a chain of two jump hosts', () => {
  it('reaches guests through the second jump, itself reached through the first', async () => {
    const logA = sinceMark(a);
    const logB = sinceMark(b);
    const ids = [1, 2, 3, 4, 5];
    const out = await Promise.all(ids.map((i) => run(guest(i, { jump: [hopA(), hopB()] }))));
    expect(out.every((o) => o.startsWith('0:'))).toBe(true);
    await jumpsClosed();
    expect(logins(logA())).toBe(1);
    expect(channels(logA())).toEqual([`${b.address}:${b.port}`]);
    expect(logins(logB())).toBe(1);
    expect(channels(logB()).sort()).toEqual(ids.map((i) => `${guestAddr(i)}:${PORT}`).sort());
  });

  it('refuses an unpinned second hop, naming it', async () => {
    const kh = parseKnownHosts(readFileSync(tf.emu.knownHostsPath));
    addPin(kh, a.address, a.port, 'ssh-ed25519', Buffer.from(a.hostKey, 'base64'));
    const logB = sinceMark(b);
    const err = await failure(guest(1, { knownHosts: kh, jump: [hopA(), hopB()] }));
    expect(err.reason).toBe('hostkey-refused');
    expect(err.message).toMatch(/^guest1 \(127\.163\.0\.1:2222\): host key of jump host bastion-b \(127\.164\.0\.2:2222\) is not pinned: ssh-ed25519 SHA256:/);
    expect(logins(logB())).toBe(0);
    await jumpsClosed();
  });
});

describe('jump host keys are pinned like a guest\'s', () => {
  it('refuses an unpinned jump host before logging in, naming it', async () => {
    const kh = parseKnownHosts(readFileSync(tf.emu.knownHostsPath));
    const log = sinceMark(a);
    const err = await failure(guest(1, { knownHosts: kh, jump: [hopA()] }));
    expect(err.reason).toBe('hostkey-refused');
    expect(err.details.verdict).toBe('unknown');
    expect(err.message).toMatch(/^guest1 \(127\.163\.0\.1:2222\): host key of jump host bastion-a \(127\.164\.0\.1:2222\) is not pinned: ssh-ed25519 SHA256:/);
    expect(logins(log())).toBe(0);
    expect(channels(log())).toEqual([]);
    await jumpsClosed();
  });

  it('refuses a jump host whose key changed', async () => {
    const kh = parseKnownHosts(readFileSync(tf.emu.knownHostsPath));
    const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
    const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), other]);
    addPin(kh, a.address, a.port, 'ssh-ed25519', blob);
    const err = await failure(guest(1, { knownHosts: kh, jump: [hopA()] }));
    expect(err.reason).toBe('hostkey-refused');
    expect(err.details.verdict).toBe('changed');
    expect(err.message).toMatch(/HOST KEY OF jump host bastion-a \(127\.164\.0\.1:2222\) HAS CHANGED/);
    await jumpsClosed();
  });
});

describe('failures say which hop failed', () => {
  it('jump host unreachable', async () => {
    const dead: JumpHop = { host: 'bastion-gone', address: '127.164.0.9', port: PORT, user: 'root' };
    const err = await failure(guest(1, { jump: [dead] }));
    expect(err.reason).toBe('unreachable');
    expect(err.message).toMatch(/^guest1 \(127\.163\.0\.1:2222\): jump host bastion-gone \(127\.164\.0\.9:2222\): ECONNREFUSED/);
  });

  it('jump host that never answers: its own deadline, then the guest fails naming it', async () => {
    const held: net.Socket[] = [];
    const silent = net.createServer((sock) => held.push(sock));
    await new Promise<void>((resolve) => silent.listen(PORT, '127.164.0.5', resolve));
    try {
      const hop: JumpHop = { host: 'bastion-mute', address: '127.164.0.5', port: PORT, user: 'root' };
      const err = await failure(guest(1, { jump: [hop], connectTimeoutMs: 500 }));
      expect(err.reason).toBe('timeout');
      expect(err.message).toBe('guest1 (127.163.0.1:2222): jump host bastion-mute (127.164.0.5:2222): no SSH session within 500 ms');
    } finally {
      held.forEach((s) => s.destroy());
      silent.close();
    }
    await jumpsClosed();
  });

  it('jump host refuses the forward', async () => {
    const err = await failure(guest(NOT_PERMITTED, { jump: [hopA()] }));
    expect(err.reason).toBe('unreachable');
    expect(err.message).toMatch(/^guest13 \(127\.163\.0\.13:2222\): jump host bastion-a refused to forward to 127\.163\.0\.13:2222 \(administratively prohibited/);
    await jumpsClosed();
  });

  it('guest unreachable from the jump host', async () => {
    const err = await failure({ ...guest(1, { jump: [hopA()] }), name: 'ghost', address: DEAD });
    expect(err.reason).toBe('unreachable');
    expect(err.message).toMatch(/^ghost \(127\.163\.0\.200:2222\): unreachable from jump host bastion-a: Connection refused/);
    await jumpsClosed();
  });
});

describe('ProxyCommand', () => {
  it('carries a pinned guest connection over `ssh -W %h:%p` through the jump host', async () => {
    const kh = join(dir, 'known_hosts_jump');
    writeFileSync(kh, `[${a.address}]:${a.port} ssh-ed25519 ${a.hostKey}\n`);
    const proxy = `ssh -F /dev/null -i ${join(a.dir, 'client_key')} -o UserKnownHostsFile=${kh} -o GlobalKnownHostsFile=/dev/null ` +
      `-o StrictHostKeyChecking=yes -o BatchMode=yes -p ${a.port} -W %h:%p root@${a.address}`;
    const log = sinceMark(a);
    expect(await run(guest(4, { proxyCommand: proxy }))).toMatch(/^0:/);
    expect(channels(log())).toEqual([`${guestAddr(4)}:${PORT}`]);
    // The guest's key is fleet's to check, whatever the proxy does.
    const unpinned = parseKnownHosts('# nothing pinned\n');
    const err = await failure(guest(4, { knownHosts: unpinned, proxyCommand: proxy }));
    expect(err.reason).toBe('hostkey-refused');
    expect(err.message).toMatch(/^host key of guest4 \(127\.163\.0\.4:2222\) is not pinned/);
  });

  it('runs the command per guest with tokens expanded, and ends it when the connection closes', async () => {
    const script = join(import.meta.dirname, 'tcp-proxy.mjs');
    const pids = [5, 6].map((i) => join(dir, `proxy-${i}.pid`));
    const proxy = `${process.execPath} ${script} %h %p ${dir}/proxy-%n.pid`;
    const out = await Promise.all([5, 6].map((i) => run({ ...guest(i, { proxyCommand: proxy }), name: String(i) })));
    expect(out.every((o) => o.startsWith('0:'))).toBe(true);
    for (const pidFile of pids) {
      const pid = Number(readFileSync(pidFile, 'utf8'));
      let alive = true;
      for (let i = 0; i < 100 && alive; i++) {
        try {
          process.kill(pid, 0);
          await delay(25);
        } catch {
          alive = false;
        }
      }
      expect(alive).toBe(false);
    }
  });

  it('a failing proxy: its exit status and stderr are the error', async () => {
    // ssh runs `exec COMMAND`, so a command of several steps needs its own shell.
    const err = await failure(guest(1, { proxyCommand: `sh -c "echo 'no route to %h port %p as %r (100%%)' >&2; exit 7"` }));
    expect(err.reason).toBe('unreachable');
    const said = `no route to 127.163.0.1 port 2222 as ${tf.emu.user} (100%)`;
    expect(err.message).toBe(`guest1 (127.163.0.1:2222): proxy command \`sh -c "echo '${said}' >&2; exit 7"\` exited with status 7: ${said}`);
  });

  it('an unknown token is refused before anything runs', async () => {
    const err = await failure(guest(1, { proxyCommand: 'nc %h %p %x' }));
    expect(err.message).toMatch(/unknown token %x/);
  });
});

describe('host key probes (keys scan) through a jump host', () => {
  it('probes every key type of a guest over channels of one jump connection', async () => {
    const log = sinceMark(a);
    const via = { name: 'guest2', user: tf.emu.user, jump: [hopA()], knownHosts: pinned, credentials: { privateKey: tf.clientKey } };
    const r = await probeHostKeys({ address: guestAddr(2), port: PORT, timeoutMs: 15_000, via });
    expect(r.error).toBeUndefined();
    const pin = readFileSync(tf.emu.knownHostsPath, 'utf8').split('\n').find((l) => l.includes(' ssh-ed25519 '))!.split(' ')[2];
    expect(r.keys.find((k) => k.type === 'ed25519')?.key.toString('base64')).toBe(pin);
    await jumpsClosed();
    expect(logins(log())).toBe(1);
    expect(new Set(channels(log()))).toEqual(new Set([`${guestAddr(2)}:${PORT}`]));
    expect(channels(log()).length).toBeGreaterThanOrEqual(r.keys.length);
  });

  it('refuses an unpinned jump host, naming it', async () => {
    const via = { name: 'guest2', user: tf.emu.user, jump: [hopA()], knownHosts: parseKnownHosts('# none\n'), credentials: { privateKey: tf.clientKey } };
    const r = await probeHostKeys({ address: guestAddr(2), port: PORT, timeoutMs: 15_000, via });
    expect(r.keys).toEqual([]);
    expect(r.error?.message).toMatch(/host key of jump host bastion-a \(127\.164\.0\.1:2222\) is not pinned/);
    await jumpsClosed();
  });
});

describe('fleet run --jump', () => {
  let inventory: string;
  let kh: string;
  const sel = () => ['-i', inventory, '--identity', tf.emu.clientKeyPath, '--known-hosts', kh, '--ssh-config', 'none', '--json'];

  beforeAll(async () => {
    // The jump host lets the fleet's key in, as a bastion does for its admins.
    appendFileSync(join(a.dir, 'authorized_keys'), readFileSync(`${tf.emu.clientKeyPath}.pub`));
    inventory = join(dir, 'inventory');
    writeFileSync(inventory, `[web]\n${[1, 2, 3, 4].map((i) => `guest${i} ansible_host=${guestAddr(i)} ansible_port=${PORT} ansible_user=${tf.emu.user}`).join('\n')}\n`);
    kh = join(dir, 'known_hosts_cli');
    writeFileSync(kh, readFileSync(tf.emu.knownHostsPath, 'utf8') + `[${a.address}]:${a.port} ssh-ed25519 ${a.hostKey}\n`);
  });

  it('runs on every guest through one login on the jump host', async () => {
    const log = sinceMark(a);
    const r = await fleet('run', ...sel(), '--jump', `root@${a.address}:${a.port}`, '--', 'hostname');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(jsonLines(r.out).filter((x) => x.host).map((x) => x.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    await jumpsClosed();
    expect(logins(log())).toBe(1);
    expect(channels(log())).toHaveLength(4);
  });

  it('runs an inventory ProxyCommand (ansible_ssh_common_args) per guest', async () => {
    const script = join(import.meta.dirname, 'tcp-proxy.mjs');
    const inv = join(dir, 'inventory_proxy');
    const args = `-o ProxyCommand="${process.execPath} ${script} %h %p ${dir}/cli-proxy-%n.pid"`;
    writeFileSync(inv, `[web]\n${[5, 6].map((i) => `guest${i} ansible_host=${guestAddr(i)} ansible_port=${PORT} ansible_user=${tf.emu.user}`).join('\n')}\n[web:vars]\nansible_ssh_common_args='${args}'\n`);
    const r = await fleet('run', ...sel(), '-i', inv, '--', 'hostname');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(jsonLines(r.out).filter((x) => x.host).map((x) => x.status)).toEqual(['ok', 'ok']);
    // One proxy per guest, each given its guest's name.
    expect([5, 6].map((i) => Number(readFileSync(join(dir, `cli-proxy-guest${i}.pid`), 'utf8')) > 0)).toEqual([true, true]);
  });

  it('keys scan and keys trust reach guests through the jump host', async () => {
    const log = sinceMark(a);
    const r = await fleet('keys', 'scan', ...sel(), '--jump', `root@${a.address}:${a.port}`);
    expect(r.code).toBe(1); // the emulated guests are clones: one clone group
    expect(jsonLines(r.out).filter((x) => x.host).map((x) => x.status)).toEqual(['pinned', 'pinned', 'pinned', 'pinned']);
    await jumpsClosed();
    expect(logins(log())).toBe(1);
    expect(new Set(channels(log()))).toEqual(new Set([1, 2, 3, 4].map((i) => `${guestAddr(i)}:${PORT}`)));
    // A guest not pinned yet is enrolled with the key it shows through the jump host.
    const fresh = join(dir, 'known_hosts_cli_trust');
    writeFileSync(fresh, `[${a.address}]:${a.port} ssh-ed25519 ${a.hostKey}\n`);
    const t = await fleet('keys', 'trust', 'guest1', ...sel().filter((x) => x !== '--json'), '--known-hosts', fresh, '--jump', `root@${a.address}:${a.port}`, '--yes');
    expect(t.err).toBe('');
    expect(t.code).toBe(0);
    const kh2 = await loadKnownHosts(fresh);
    const pin = readFileSync(tf.emu.knownHostsPath, 'utf8').split('\n').find((l) => l.includes(' ssh-ed25519 '))!.split(' ')[2];
    expect(kh2.lines.some((l) => l.kind === 'entry' && l.key.toString('base64') === pin)).toBe(true);
    await jumpsClosed();
  });

  it('exits 3 naming the jump host when its key is not pinned', async () => {
    const bare = join(dir, 'known_hosts_cli_bare');
    writeFileSync(bare, readFileSync(tf.emu.knownHostsPath));
    const r = await fleet('run', ...sel(), '--known-hosts', bare, '--jump', `root@${a.address}:${a.port}`, '--', 'true');
    expect(r.code).toBe(3);
    const rows = jsonLines(r.out).filter((x) => x.host);
    expect(rows.map((x) => x.status)).toEqual(['hostkey-refused', 'hostkey-refused', 'hostkey-refused', 'hostkey-refused']);
    expect(rows[0]!.error).toMatch(/host key of jump host 127\.164\.0\.1 \(127\.164\.0\.1:2222\) is not pinned/);
    await jumpsClosed();
  });
});
