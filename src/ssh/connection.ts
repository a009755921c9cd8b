// One pinned SSH connection over ssh2: connect (host key checked against known_hosts, always),
// exec with a timeout, SFTP, close. Everything else in clonefleet goes through this, never ssh2.
import net from 'node:net';
import ssh2 from 'ssh2';
import type { ClientChannel, ConnectConfig, SFTPWrapper } from 'ssh2';
import { fingerprintSha256, keyTypeOfBlob } from './fingerprint.js';
import { lookup, verify, type HostKeyVerdict, type KnownHosts } from './known-hosts.js';

const { Client } = ssh2;

/** Why a connection failed, in the words of the result model. */
export type ConnectFailure = 'unreachable' | 'timeout' | 'auth-refused' | 'hostkey-refused';

export class SshError extends Error {
  constructor(
    message: string,
    readonly reason: ConnectFailure,
    readonly host: string,
    readonly details: { verdict?: HostKeyVerdict; fingerprint?: string; pinned?: string[] } = {},
  ) {
    super(message);
    this.name = 'SshError';
  }
}

export interface Credentials {
  username: string;
  privateKey?: Buffer;
  /** Path of an ssh-agent socket (SSH_AUTH_SOCK). */
  agent?: string;
}

export interface ConnectOptions {
  /** Name for messages (inventory name). */
  name: string;
  address: string;
  port: number;
  knownHosts: KnownHosts;
  credentials: Credentials;
  connectTimeoutMs: number;
  keepaliveIntervalMs?: number;
}

export interface ExecOptions {
  stdin?: Buffer | string;
  timeoutMs?: number;
}

export interface ExecResult {
  exitCode: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
}

function describeVerdict(o: ConnectOptions, verdict: HostKeyVerdict, keyType: string, fp: string, pinned: string[]): string {
  const who = `${o.name} (${o.address}:${o.port})`;
  switch (verdict) {
    case 'unknown':
      return `host key of ${who} is not pinned: ${keyType} ${fp}. Enrol it deliberately with \`fleet keys trust\` after checking the fingerprint.`;
    case 'revoked':
      return `host key of ${who} is REVOKED in known_hosts: ${keyType} ${fp}. Refused.`;
    default:
      return `HOST KEY OF ${who} HAS CHANGED: presented ${keyType} ${fp}, pinned ${pinned.join(', ')}. ` +
        'Someone could be eavesdropping (man-in-the-middle), or the host was re-keyed. Refused.';
  }
}

export class SshConnection {
  private constructor(
    private readonly client: InstanceType<typeof Client>,
    readonly options: ConnectOptions,
  ) {}

  /** Connects and authenticates; rejects with an SshError saying which stage failed and why. */
  static connect(o: ConnectOptions): Promise<SshConnection> {
    return new Promise((resolve, reject) => {
      const client = new Client();
      let hostKey: { verdict: HostKeyVerdict; fingerprint: string; keyType: string; pinned: string[] } | undefined;
      let settled = false;
      const fail = (err: SshError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.removeAllListeners('ready');
        client.on('error', () => {});
        client.end();
        sock.destroy();
        reject(err);
      };
      // One deadline covers TCP connect, banner, key exchange and auth: a hanging guest cannot hold us.
      const timer = setTimeout(
        () => fail(new SshError(`${o.name} (${o.address}:${o.port}): no SSH session within ${o.connectTimeoutMs} ms`, 'timeout', o.name)),
        o.connectTimeoutMs,
      );
      const sock = net.connect({ host: o.address, port: o.port, noDelay: true });
      sock.on('error', (err: NodeJS.ErrnoException) => {
        fail(new SshError(`${o.name} (${o.address}:${o.port}): ${err.code ?? ''} ${err.message}`.trim(), 'unreachable', o.name));
      });
      client.on('ready', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.on('error', () => {});
        resolve(new SshConnection(client, o));
      });
      client.on('error', (err: Error & { level?: string }) => {
        if (hostKey && hostKey.verdict !== 'ok') {
          fail(new SshError(describeVerdict(o, hostKey.verdict, hostKey.keyType, hostKey.fingerprint, hostKey.pinned), 'hostkey-refused', o.name, hostKey));
        } else if (err.level === 'client-authentication') {
          fail(new SshError(`${o.name} (${o.address}:${o.port}): authentication refused for user ${o.credentials.username}`, 'auth-refused', o.name));
        } else {
          fail(new SshError(`${o.name} (${o.address}:${o.port}): ${err.message}`, 'unreachable', o.name));
        }
      });
      client.on('close', () => fail(new SshError(`${o.name} (${o.address}:${o.port}): connection closed during setup`, 'unreachable', o.name)));
      const config: ConnectConfig = {
        sock,
        username: o.credentials.username,
        privateKey: o.credentials.privateKey,
        agent: o.credentials.agent,
        readyTimeout: o.connectTimeoutMs + 1000,
        keepaliveInterval: o.keepaliveIntervalMs ?? 15_000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          const keyType = keyTypeOfBlob(key) ?? 'unknown';
          const verdict = verify(o.knownHosts, o.address, o.port, keyType, key);
          const pinned = lookup(o.knownHosts, o.address, o.port).pinned.map((p) => `${p.keyType} ${fingerprintSha256(p.key)}`);
          hostKey = { verdict, fingerprint: fingerprintSha256(key), keyType, pinned };
          return verdict === 'ok';
        },
      };
      client.connect(config);
    });
  }

  /** Runs a command; output is collected. On timeout the remote command gets TERM and the channel closes. */
  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream: ClientChannel) => {
        if (err) return reject(err);
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let exitCode: number | null = null;
        let signal: string | null = null;
        let timedOut = false;
        const timer = opts.timeoutMs
          ? setTimeout(() => {
              timedOut = true;
              stream.signal('TERM'); // ask first, then drop the channel: closing it kills the command
              stream.close();
            }, opts.timeoutMs)
          : undefined;
        stream.on('data', (d: Buffer) => out.push(d));
        stream.stderr.on('data', (d: Buffer) => errOut.push(d));
        stream.on('exit', (code: number | null, sig?: string) => {
          exitCode = code;
          signal = sig ?? null;
        });
        stream.on('close', () => {
          clearTimeout(timer);
          resolve({ exitCode, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(errOut), timedOut });
        });
        stream.end(opts.stdin ?? undefined);
      });
    });
  }

  sftp(): Promise<SFTPWrapper> {
    return new Promise((resolve, reject) => this.client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))));
  }

  /** Resolves when the connection drops (used to tell a dropped link from a failed command). */
  onClose(listener: () => void): void {
    this.client.once('close', listener);
  }

  close(): void {
    this.client.end();
  }
}
