// An OpenSSH that speaks mlkem768x25519-sha256 (9.9+), independent of ssh2, for the key exchange
// interop tests: scripts/fetch-openssh-peer.sh unpacks it into .peers/openssh (run here when it is
// missing). Its client as a path, and its sshd started as the contract tests' real sshd is
// (real-sshd.ts), with this copy's binaries.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { startRealSshd } from './real-sshd.js';

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
  const sshd = await startRealSshd(address, port, {
    binaries: { sshd: peer.sshd, sshKeygen: join(ROOT, 'usr/bin/ssh-keygen'), sftpServer: `${peer.libexec}/sftp-server` },
    logLevel: 'DEBUG1',
    // Its session and auth helpers live at a path built into sshd: point it at this unpacked copy.
    config: ['MaxStartups 100:30:200', `SshdSessionPath ${peer.libexec}/sshd-session`, `SshdAuthPath ${peer.libexec}/sshd-auth`],
  });
  return { address, port, dir: sshd.dir, clientKeyPath: join(sshd.dir, 'client_key'), hostKey: sshd.hostKey, log: sshd.log, stop: sshd.stop };
}
