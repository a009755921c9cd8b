// An OpenSSH that speaks mlkem768x25519-sha256 (9.9+), independent of ssh2, for the key exchange
// interop tests: scripts/fetch-openssh-peer.sh unpacks it into .peers/openssh (run here when it is
// missing). Its client as a path, and its sshd started on a loopback address in a private mount
// namespace (a tmpfs over /run for privilege separation), root login by key only.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const ROOT = join(REPO, '.peers/openssh');

export interface OpensshPeer {
  ssh: string;
  sshd: string;
  libexec: string;
  /** `ssh -V`, e.g. OpenSSH_10.0p2 Debian-7~bpo12+1. */
  version: string;
}

async function found(): Promise<OpensshPeer | undefined> {
  const ssh = join(ROOT, 'usr/bin/ssh');
  const sshd = join(ROOT, 'usr/sbin/sshd');
  if (!existsSync(ssh) || !existsSync(sshd)) return undefined;
  const kex = await execa(ssh, ['-Q', 'kex'], { reject: false });
  if (!kex.stdout.split('\n').includes('mlkem768x25519-sha256')) return undefined;
  const v = await execa(ssh, ['-V'], { reject: false });
  return { ssh, sshd, libexec: join(ROOT, 'usr/lib/openssh'), version: v.stderr.trim() };
}

/** The peer, fetched first when missing; undefined (with the fetch's reason) when none can be had. */
export async function opensshPeer(): Promise<{ peer?: OpensshPeer; why?: string }> {
  const have = await found();
  if (have) return { peer: have };
  const fetch = await execa('bash', [join(REPO, 'scripts/fetch-openssh-peer.sh')], { reject: false, all: true, timeout: 180_000 });
  const peer = await found();
  return peer ? { peer } : { why: fetch.all?.trim() || `scripts/fetch-openssh-peer.sh exited ${fetch.exitCode}` };
}

function listening(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const sock = net.connect({ host, port });
    sock.setTimeout(1000, () => (sock.destroy(), done(false)));
    sock.once('connect', () => (sock.destroy(), done(true)));
    sock.once('error', () => done(false));
  });
}

export interface PeerSshd {
  address: string;
  port: number;
  dir: string;
  clientKeyPath: string;
  /** Base64 blob of its ed25519 host key. */
  hostKey: string;
  /** Its log (LogLevel DEBUG1: it names the key exchange of every connection). */
  log(): string;
  stop(): Promise<void>;
}

export async function startPeerSshd(peer: OpensshPeer, address: string, port: number): Promise<PeerSshd> {
  const dir = mkdtempSync(join(tmpdir(), 'clonefleet-peer-sshd-'));
  const keygen = (file: string) => execa(join(ROOT, 'usr/bin/ssh-keygen'), ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', join(dir, file)]);
  await Promise.all([keygen('host_key'), keygen('client_key')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')));
  writeFileSync(join(dir, 'sshd_config'), [
    `ListenAddress ${address}:${port}`, `HostKey ${join(dir, 'host_key')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PidFile none', 'UsePAM no', 'StrictModes no', 'PermitRootLogin prohibit-password', 'PasswordAuthentication no',
    'KbdInteractiveAuthentication no', 'MaxStartups 100:30:200', 'LogLevel DEBUG1',
    `Subsystem sftp ${peer.libexec}/sftp-server`,
    // Its session and auth helpers live at a path built into sshd: point it at this unpacked copy.
    `SshdSessionPath ${peer.libexec}/sshd-session`, `SshdAuthPath ${peer.libexec}/sshd-auth`, '',
  ].join('\n'));
  const log = join(dir, 'sshd.log');
  const script = `mount -t tmpfs -o size=64k,mode=755 tmpfs /run && mkdir -m 755 /run/sshd && exec '${peer.sshd}' -D -E '${log}' -f '${join(dir, 'sshd_config')}'`;
  const proc = execa('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { reject: false, stdin: 'ignore', all: true });
  let exited = false;
  void proc.then(() => (exited = true));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (!exited) proc.kill('SIGTERM');
    await proc;
    rmSync(dir, { recursive: true, force: true });
  };
  const readLog = () => (existsSync(log) ? readFileSync(log, 'utf8') : '');
  try {
    const end = Date.now() + 5000;
    while (!(await listening(address, port))) {
      if (exited) throw new Error(`${peer.version} sshd exited at start: ${(await proc).all} ${readLog()}`);
      if (Date.now() > end) throw new Error(`${peer.version} sshd did not listen on ${address}:${port} within 5 s: ${readLog()}`);
      await delay(50);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const hostKey = readFileSync(join(dir, 'host_key.pub'), 'utf8').split(' ')[1]!;
  return { address, port, dir, clientKeyPath: join(dir, 'client_key'), hostKey, log: readLog, stop };
}
