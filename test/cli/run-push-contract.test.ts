// One contract for `fleet run` and `fleet push`, run against both engines: an emulated guest and a
// real OpenSSH sshd started here on loopback. Host keys: unknown, changed and revoked are refused
// (exit 3, with fingerprints), and known_hosts files our code writes (plain and hashed) are accepted
// by the real `ssh -o StrictHostKeyChecking=yes`.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAM_MAX } from '../../src/executor/index.js';
import { addPin, fingerprintSha256, loadKnownHosts, saveKnownHosts } from '../../src/ssh/index.js';
import { startFleet, type TestFleet } from '../helpers/emulator.js';
import { startRealSshd, type RealSshd } from '../helpers/real-sshd.js';
import { fleet, jsonLines } from './cli-harness.js';

interface Engine {
  address: string;
  port: number;
  user: string;
  uid: number;
  identity: string;
  /** ed25519 host key blob it presents. */
  hostKey: Buffer;
  /** A writable directory on the target, and the same directory as this machine sees it. */
  remoteDir: string;
  localView(remotePath: string): string;
  /** A directory only root may write (for --sudo). */
  rootDir: string;
  stop(): Promise<void>;
}

async function emulatorEngine(): Promise<Engine> {
  const tf: TestFleet = await startFleet({ guests: 1, subnet: '127.104.0.0/16', port: 2222 });
  const g = tf.emu.guests[0]!;
  const line = readFileSync(tf.emu.knownHostsPath, 'utf8').split('\n').find((l) => l.includes(' ssh-ed25519 '))!;
  return {
    address: g.cfg.address, port: tf.emu.port, user: tf.emu.user, uid: 1000, identity: tf.emu.clientKeyPath,
    hostKey: Buffer.from(line.split(' ')[2]!, 'base64'),
    remoteDir: '/home/fleetadm', rootDir: '/etc',
    localView: (p) => join(g.cfg.dir, p),
    stop: () => tf.stop(),
  };
}

async function opensshEngine(): Promise<Engine> {
  const sshd: RealSshd = await startRealSshd('127.105.0.1', 2222);
  // sshd runs on this machine's filesystem: give it a scratch directory of its own.
  const scratch = join(sshd.dir, 'scratch');
  mkdirSync(scratch);
  mkdirSync(join(scratch, 'rootonly'), { mode: 0o755 });
  return {
    address: sshd.address, port: sshd.port, user: sshd.user, uid: 0, identity: join(sshd.dir, 'client_key'),
    hostKey: Buffer.from(sshd.hostKey, 'base64'),
    remoteDir: scratch, rootDir: join(scratch, 'rootonly'),
    localView: (p) => p,
    stop: () => sshd.stop(),
  };
}

const ENGINES: [string, () => Promise<Engine>][] = [['emulator', emulatorEngine], ['openssh sshd', opensshEngine]];

describe.each(ENGINES)('run/push contract: %s', (_name, start) => {
  let e: Engine;
  let dir: string;
  let inventory: string;

  /** A known_hosts file, written by our code, pinning `key` (default: the engine's real key) or nothing. */
  async function knownHosts(name: string, opts: { key?: Buffer; none?: boolean; hashed?: boolean; extra?: string } = {}): Promise<string> {
    const file = join(dir, name);
    writeFileSync(file, '# written by the contract test\n');
    const kh = await loadKnownHosts(file);
    if (!opts.none) addPin(kh, e.address, e.port, 'ssh-ed25519', opts.key ?? e.hostKey, { hashed: opts.hashed });
    await saveKnownHosts(file, kh);
    if (opts.extra) writeFileSync(file, readFileSync(file, 'utf8') + opts.extra);
    return file;
  }

  const sel = (kh: string) => ['-i', inventory, '--identity', e.identity, '--known-hosts', kh];

  beforeAll(async () => {
    e = await start();
    dir = mkdtempSync(join(tmpdir(), 'fleet-contract-'));
    inventory = join(dir, 'inventory');
    writeFileSync(inventory, `[target]\ntarget1 ansible_host=${e.address} ansible_port=${e.port} ansible_user=${e.user}\n`);
  });

  afterAll(async () => {
    await e?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs a command exactly as typed, with its output and exit status', async () => {
    const kh = await knownHosts('kh_run');
    const r = await fleet('run', ...sel(kh), '--json', '--', `printf '%s|' "it's" '$HOME' "a\nb"; id -u`);
    expect(r.code).toBe(0);
    expect(jsonLines(r.out)[0]).toMatchObject({ host: 'target1', status: 'ok', exitCode: 0, stdout: `it's|$HOME|a\nb|${e.uid}\n` });
    const sudo = await fleet('run', ...sel(kh), '--sudo', '--json', '--', 'id -u');
    expect(jsonLines(sudo.out)[0]).toMatchObject({ status: 'ok', stdout: '0\n' });
    const bad = await fleet('run', ...sel(kh), '--json', '--', 'echo no >&2; exit 3');
    expect(bad.code).toBe(1);
    expect(jsonLines(bad.out)[0]).toMatchObject({ status: 'failed', exitCode: 3, stderr: 'no\n' });
  });

  it('pushes a file once, then finds it unchanged; --mode and --backup', async () => {
    const kh = await knownHosts('kh_push');
    const local = join(dir, 'payload');
    writeFileSync(local, 'v1\n');
    const remote = `${e.remoteDir}/payload`;
    const first = await fleet('push', ...sel(kh), '--json', '--mode', '0600', local, remote);
    expect(jsonLines(first.out)[0]).toMatchObject({ status: 'ok', changed: true });
    expect(readFileSync(e.localView(remote), 'utf8')).toBe('v1\n');
    expect(statSync(e.localView(remote)).mode & 0o777).toBe(0o600);
    const second = await fleet('push', ...sel(kh), '--json', '--mode', '0600', local, remote);
    expect(jsonLines(second.out)[0]).toMatchObject({ status: 'ok', changed: false });
    writeFileSync(local, 'v2\n');
    const third = await fleet('push', ...sel(kh), '--json', '--backup', local, remote);
    const row = jsonLines(third.out)[0]!;
    expect(row).toMatchObject({ status: 'ok', changed: true });
    expect(readFileSync(e.localView(row.backup), 'utf8')).toBe('v1\n');
    expect(statSync(e.localView(remote)).mode & 0o777).toBe(0o600);
  });

  it('pushes as root with --sudo, --owner and --mode', async () => {
    const kh = await knownHosts('kh_sudo');
    const local = join(dir, 'rootfile');
    writeFileSync(local, 'root only\n');
    const remote = `${e.rootDir}/fleet-contract.conf`;
    const r = await fleet('push', ...sel(kh), '--json', '--sudo', '--owner', 'root:root', '--mode', '0640', local, remote);
    expect(jsonLines(r.out)[0]).toMatchObject({ status: 'ok', changed: true });
    const st = statSync(e.localView(remote));
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([0, 0, 0o640]);
  });

  it('pushes a file above STREAM_MAX over SFTP, as the login user and with --sudo', async () => {
    const kh = await knownHosts('kh_sftp');
    const local = join(dir, 'large');
    const data = randomBytes(STREAM_MAX + 1);
    writeFileSync(local, data);
    for (const [remote, extra] of [[`${e.remoteDir}/large`, []], [`${e.rootDir}/large`, ['--sudo', '--mode', '0600']]] as const) {
      const r = await fleet('push', ...sel(kh), '--json', ...extra, local, remote);
      expect(jsonLines(r.out)[0]).toMatchObject({ status: 'ok', changed: true });
      expect(readFileSync(e.localView(remote)).equals(data)).toBe(true);
      const again = await fleet('push', ...sel(kh), '--json', ...extra, local, remote);
      expect(jsonLines(again.out)[0]).toMatchObject({ status: 'ok', changed: false });
    }
    expect(statSync(e.localView(`${e.rootDir}/large`)).mode & 0o777).toBe(0o600);
  });

  it('refuses an unknown host key with exit 3 and its SHA256 fingerprint', async () => {
    const kh = await knownHosts('kh_unknown', { none: true });
    const r = await fleet('run', ...sel(kh), '--json', '--', 'true');
    expect(r.code).toBe(3);
    expect(jsonLines(r.out)[0]).toMatchObject({ status: 'hostkey-refused' });
    expect(jsonLines(r.out)[0]!.error).toContain(`not pinned: ssh-ed25519 ${fingerprintSha256(e.hostKey)}`);
    const p = await fleet('push', ...sel(kh), join(dir, 'kh_unknown'), `${e.remoteDir}/never`);
    expect(p.code).toBe(3);
  });

  it('refuses a changed host key loudly, naming both fingerprints', async () => {
    const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
    const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), other]);
    const kh = await knownHosts('kh_changed', { key: blob });
    const r = await fleet('run', ...sel(kh), '--', 'true');
    expect(r.code).toBe(3);
    expect(r.out).toContain('HAS CHANGED');
    expect(r.out).toContain(fingerprintSha256(e.hostKey));
    expect(r.out).toContain(fingerprintSha256(blob));
  });

  it('refuses a revoked host key even where it is pinned', async () => {
    const kh = await knownHosts('kh_revoked', { extra: `@revoked * ssh-ed25519 ${e.hostKey.toString('base64')}\n` });
    const r = await fleet('run', ...sel(kh), '--json', '--', 'true');
    expect(r.code).toBe(3);
    expect(jsonLines(r.out)[0]!.error).toMatch(/REVOKED/);
  });

  it.each([['plain', false], ['hashed', true]])('writes %s known_hosts that the real ssh accepts strictly, and so do we', async (_kind, hashed) => {
    const kh = await knownHosts(`kh_written_${hashed}`, { hashed });
    if (hashed) expect(readFileSync(kh, 'utf8')).toMatch(/^\|1\|/m);
    const ssh = await execa('ssh', [
      '-F', '/dev/null', '-i', e.identity, '-p', String(e.port),
      '-o', `UserKnownHostsFile=${kh}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes',
      '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'ConnectTimeout=10', `${e.user}@${e.address}`, 'echo pinned',
    ], { reject: false, timeout: 20_000, stdin: 'ignore' });
    expect([ssh.exitCode, ssh.stdout, ssh.stderr]).toEqual([0, 'pinned', '']);
    expect((await fleet('run', ...sel(kh), '--', 'true')).code).toBe(0);
  });

  it('accepts a known_hosts file hashed by ssh-keygen -H', async () => {
    const kh = await knownHosts('kh_keygen');
    await execa('ssh-keygen', ['-H', '-f', kh]);
    expect(readFileSync(kh, 'utf8')).not.toContain(e.address);
    expect((await fleet('run', ...sel(kh), '--', 'true')).code).toBe(0);
  });
});
