// A real OpenSSH sshd for contract tests: its own host key, client key and config in a temp dir,
// one loopback address, root login by key only. It runs in a private mount namespace with a tmpfs
// over /run (privilege separation wants /run/sshd; the host's /run is left alone).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { connect, type SshSession } from './ssh-client.js';

export interface RealSshd {
  address: string;
  port: number;
  user: string;
  dir: string;
  clientKey: Buffer;
  /** Base64 blob of its host key. */
  hostKey: string;
  connect(): Promise<SshSession>;
  /** Its log so far (with `logLevel`; empty otherwise). */
  log(): string;
  /** Stops sshd and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    sock.setTimeout(1000, () => {
      sock.destroy();
      resolve(false);
    });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

export interface RealSshdOptions {
  /** sshd's LogLevel, written to a file log() reads (default: ERROR, to stderr). */
  logLevel?: string;
  /** More sshd_config lines (PermitOpen, MaxStartups, ...). */
  config?: string[];
  /** Its own PID namespace: PIDs there count the processes its sessions create. */
  pidNamespace?: boolean;
  /** Sessions without the login user's ~/.bashrc (bash reads it for commands over ssh). */
  leanShell?: boolean;
  /** Another OpenSSH than the machine's: its sshd, ssh-keygen and sftp-server (its helpers' paths go in `config`). */
  binaries?: { sshd: string; sshKeygen: string; sftpServer: string };
}

export async function startRealSshd(address: string, port = 2222, opts: RealSshdOptions = {}): Promise<RealSshd> {
  const dir = mkdtempSync(join(tmpdir(), 'clonefleet-real-sshd-'));
  const bin = opts.binaries ?? { sshd: '/usr/sbin/sshd', sshKeygen: 'ssh-keygen', sftpServer: '/usr/lib/openssh/sftp-server' };
  const keygen = (file: string) => execa(bin.sshKeygen, ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', join(dir, file)]);
  await Promise.all([keygen('host_key'), keygen('client_key')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')));
  writeFileSync(join(dir, 'sshd_config'), [
    `ListenAddress ${address}:${port}`,
    `HostKey ${join(dir, 'host_key')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PidFile none', 'UsePAM no', 'StrictModes no', 'PermitRootLogin prohibit-password',
    'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'AcceptEnv LANG LC_*',
    `Subsystem sftp ${bin.sftpServer}`, `LogLevel ${opts.logLevel ?? 'ERROR'}`, ...(opts.config ?? []), '',
  ].join('\n'));
  const lean = opts.leanShell ? "{ [ ! -e /root/.bashrc ] || mount --bind /dev/null /root/.bashrc; } && " : '';
  const script = `${lean}mount -t tmpfs -o size=64k,mode=755 tmpfs /run && mkdir -m 755 /run/sshd && exec '${bin.sshd}' -D ${opts.logLevel ? `-E '${join(dir, 'sshd.log')}'` : '-e'} -f '${join(dir, 'sshd_config')}'`;
  // --kill-child: sshd is the namespace's first process, not unshare; stopping unshare must stop it.
  const pid = opts.pidNamespace ? ['-p', '-f', '--kill-child', '--mount-proc'] : [];
  const proc = execa('unshare', ['-m', ...pid, '--propagation', 'private', 'sh', '-c', script], { reject: false, stdin: 'ignore', all: true });
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
  try {
    const end = Date.now() + 5000;
    while (!(await listening(address, port))) {
      if (exited) throw new Error(`sshd exited at start: ${(await proc).all}`);
      if (Date.now() > end) throw new Error(`sshd did not listen on ${address}:${port} within 5 s`);
      await delay(50);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const clientKey = readFileSync(join(dir, 'client_key'));
  const hostKey = readFileSync(join(dir, 'host_key.pub'), 'utf8').split(' ')[1]!;
  return {
    address, port, user: 'root', dir, clientKey, hostKey, stop,
    log: () => (opts.logLevel ? readFileSync(join(dir, 'sshd.log'), 'utf8') : ''),
    connect: () => connect({ host: address, port, username: 'root', privateKey: clientKey, pins: [hostKey] }),
  };
}
