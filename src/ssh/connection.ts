// One pinned SSH connection over ssh2: connect (host key checked against known_hosts, always),
// exec with a timeout, SFTP (and the few file operations the executor needs), close. Everything
// else in clonefleet goes through this, never ssh2.
import net from 'node:net';
import ssh2 from 'ssh2';
import type { AuthMethod, ClientChannel, ConnectConfig, ParsedKey, PublicKeyAuthMethod, SFTPWrapper } from 'ssh2';
import { authKey, pinsOf } from './connection-cache.js';
import { sftpCall, writePipelined } from './connection-sftp.js';
import { fingerprintSha256, keyTypeOfBlob } from './fingerprint.js';
import { hostKeyAlgorithms } from './host-key-order.js';
import { lookup, verify, type HostKeyVerdict, type KnownHosts } from './known-hosts.js';

const { Client } = ssh2;

/** Why a connection failed, in the words of the result model. */
export type ConnectFailure = 'unreachable' | 'timeout' | 'auth-refused' | 'hostkey-refused';

export class SshError extends Error {
  constructor(
    message: string,
    readonly reason: ConnectFailure,
    readonly host: string,
    readonly details: { verdict?: HostKeyVerdict; fingerprint?: string; pinned?: string[]; ignored?: string[] } = {},
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
  /**
   * Called with each chunk of stdout as it arrives, instead of collecting it (the result's `stdout`
   * is then empty): bounded memory for any amount of output. Synchronous: a slow handler slows the
   * connection, nothing queues.
   */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
}

/** A command started with SshConnection.start(). */
export interface RemoteProcess {
  /** Its stdout so far. */
  stdout(): string;
  /** Resolves true once stdout contains `marker`, false if the command ends first. */
  waitFor(marker: string): Promise<boolean>;
  write(data: Buffer | string): void;
  /** Ends stdin, optionally after `data` (ssh2 sends it as the channel window allows). */
  end(data?: Buffer | string): void;
  result: Promise<ExecResult>;
}

export interface ExecResult {
  exitCode: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
}

function describeVerdict(o: ConnectOptions, verdict: HostKeyVerdict, keyType: string, fp: string, pinned: string[], ignored: string[] = []): string {
  const who = `${o.name} (${o.address}:${o.port})`;
  switch (verdict) {
    case 'unknown':
      return `host key of ${who} is not pinned: ${keyType} ${fp}` +
        (ignored.length ? ` (known_hosts lines for it that are not pins: ${ignored.join('; ')})` : '') +
        '. Enrol it deliberately with `fleet keys trust` after checking the fingerprint.';
    case 'revoked':
      return `host key of ${who} is REVOKED in known_hosts: ${keyType} ${fp}. Refused.`;
    default:
      return `HOST KEY OF ${who} HAS CHANGED: presented ${keyType} ${fp}, pinned ${pinned.join(', ')}. ` +
        'Someone could be eavesdropping (man-in-the-middle), or the host was re-keyed. Refused.';
  }
}

export class SshConnection {
  private dropped = false;
  private fileSession?: Promise<SFTPWrapper>;

  private constructor(
    private readonly client: InstanceType<typeof Client>,
    readonly options: ConnectOptions,
    private readonly sock: net.Socket,
  ) {
    client.once('close', () => (this.dropped = true));
  }

  /** True once the connection is gone (closed by us, dropped by the guest or the network). */
  get lost(): boolean {
    return this.dropped;
  }

  /** Connects and authenticates; rejects with an SshError saying which stage failed and why. */
  static connect(o: ConnectOptions): Promise<SshConnection> {
    return new Promise((resolve, reject) => {
      const client = new Client();
      let hostKey: { verdict: HostKeyVerdict; fingerprint: string; keyType: string; pinned: string[]; ignored: string[] } | undefined;
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
        resolve(new SshConnection(client, o, sock));
      });
      client.on('error', (err: Error & { level?: string }) => {
        if (hostKey && hostKey.verdict !== 'ok') {
          fail(new SshError(describeVerdict(o, hostKey.verdict, hostKey.keyType, hostKey.fingerprint, hostKey.pinned, hostKey.ignored), 'hostkey-refused', o.name, hostKey));
        } else if (err.level === 'client-authentication') {
          fail(new SshError(`${o.name} (${o.address}:${o.port}): authentication refused for user ${o.credentials.username}`, 'auth-refused', o.name));
        } else {
          fail(new SshError(`${o.name} (${o.address}:${o.port}): ${err.message}`, 'unreachable', o.name));
        }
      });
      // Every connection closes at its end: build the error (and its stack) only when it is still news.
      client.on('close', () => settled || fail(new SshError(`${o.name} (${o.address}:${o.port}): connection closed during setup`, 'unreachable', o.name)));
      let key: ParsedKey | undefined;
      try {
        key = o.credentials.privateKey ? authKey(o.credentials.privateKey) : undefined;
      } catch (err) {
        return fail(new SshError(`${o.name}: ${(err as Error).message}`, 'auth-refused', o.name));
      }
      const username = o.credentials.username;
      const config: ConnectConfig = {
        sock,
        username,
        // The parsed key goes through authHandler: ssh2 would re-parse a privateKey per connection.
        authHandler: key
          ? [
              { type: 'publickey', username, key } satisfies PublicKeyAuthMethod as AuthMethod,
              ...(o.credentials.agent ? [{ type: 'agent', username, agent: o.credentials.agent } as AuthMethod] : []),
            ]
          : undefined,
        agent: o.credentials.agent,
        readyTimeout: o.connectTimeoutMs + 1000,
        keepaliveInterval: o.keepaliveIntervalMs ?? 15_000,
        keepaliveCountMax: 3,
        // The pinned key types first, as OpenSSH orders them: else a host pinned by its ECDSA key alone
        // would present ed25519 and look re-keyed.
        algorithms: hostKeyAlgorithms(pinsOf(o.knownHosts, o.address, o.port), o.address, o.port),
        hostVerifier: (key: Buffer) => {
          const keyType = keyTypeOfBlob(key) ?? 'unknown';
          const pins = pinsOf(o.knownHosts, o.address, o.port);
          const verdict = verify(pins, o.address, o.port, keyType, key);
          if (verdict === 'ok') return true;
          const found = lookup(pins, o.address, o.port);
          const pinned = found.pinned.map((p) => `${p.keyType} ${fingerprintSha256(p.key)}`);
          hostKey = { verdict, fingerprint: fingerprintSha256(key), keyType, pinned, ignored: found.ignored };
          return false;
        },
      };
      client.connect(config);
    });
  }

  /**
   * Runs a command; output is collected, or handed to onStdout/onStderr as it arrives. On timeout the
   * remote command gets TERM and the channel closes.
   */
  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return this.start(command, opts).then((p) => {
      p.end(opts.stdin);
      return p.result;
    });
  }

  /**
   * Starts a command whose stdin the caller feeds while reading its stdout: a conversation with a
   * script on the guest (answer, then decide what to send). `result` settles when the channel closes.
   */
  start(command: string, opts: Omit<ExecOptions, 'stdin'> = {}): Promise<RemoteProcess> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream: ClientChannel) => {
        if (err) return reject(err);
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        const waiters: (() => void)[] = [];
        let exitCode: number | null = null;
        let signal: string | null = null;
        let timedOut = false;
        let closed = false;
        const timer = opts.timeoutMs
          ? setTimeout(() => {
              timedOut = true;
              stream.signal('TERM'); // ask first, then drop the channel: closing it kills the command
              stream.close();
            }, opts.timeoutMs)
          : undefined;
        const wake = () => waiters.splice(0).forEach((w) => w());
        const { onStdout, onStderr } = opts;
        stream.on('data', (d: Buffer) => {
          if (onStdout) onStdout(d);
          else out.push(d);
          wake();
        });
        stream.stderr.on('data', (d: Buffer) => (onStderr ? onStderr(d) : errOut.push(d)));
        stream.on('exit', (code: number | null, sig?: string) => {
          exitCode = code;
          signal = sig ?? null;
        });
        const result = new Promise<ExecResult>((done) =>
          stream.on('close', () => {
            closed = true;
            clearTimeout(timer);
            wake();
            done({ exitCode, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(errOut), timedOut });
          }),
        );
        const stdout = () => Buffer.concat(out).toString();
        resolve({
          stdout,
          waitFor: (marker) =>
            new Promise((found) => {
              const check = () => (stdout().includes(marker) ? found(true) : closed ? found(false) : waiters.push(check));
              check();
            }),
          write: (data) => void stream.write(data),
          end: (data) => void stream.end(data ?? undefined),
          result,
        });
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

  /** One SFTP session per connection for the file operations below, opened on first use. */
  private files(): Promise<SFTPWrapper> {
    this.fileSession ??= this.sftp();
    return this.fileSession;
  }

  /** Whether the guest's SFTP server offers an OpenSSH extension (`posix-rename@openssh.com`, ...). */
  async hasSftpExtension(name: string): Promise<boolean> {
    const sftp = (await this.files()) as SFTPWrapper & { _extensions?: Record<string, string> };
    return sftp._extensions?.[name] !== undefined;
  }

  /**
   * Creates `path` (it must not exist: O_EXCL, so no symlink or other file is ever followed) with
   * mode 0600, writes `data` with several requests in flight, sets `mode`, fsyncs where the server
   * can, closes. On failure the partial file is removed when the connection still allows it.
   */
  async uploadNew(path: string, data: Buffer, opts: { mode: number; inFlight?: number }): Promise<void> {
    const sftp = await this.files();
    const handle = await sftpCall<Buffer>(sftp, (cb) => sftp.open(path, 'wx', { mode: 0o600 }, cb));
    try {
      await writePipelined(sftp, handle, data, opts.inFlight ?? 16);
      await sftpCall(sftp, (cb) => sftp.fchmod(handle, opts.mode, cb));
      if (await this.hasSftpExtension('fsync@openssh.com')) await sftpCall(sftp, (cb) => sftp.ext_openssh_fsync(handle, cb));
    } catch (err) {
      // Settles even when the session is gone; the caller then removes the file over a new connection.
      await sftpCall(sftp, (cb) => sftp.close(handle, cb))
        .then(() => sftpCall(sftp, (cb) => sftp.unlink(path, cb)))
        .catch(() => {});
      throw err;
    }
    await sftpCall(sftp, (cb) => sftp.close(handle, cb));
  }

  /** stat(2) of a path (symlinks followed) over SFTP; undefined when it does not exist. */
  async statFile(path: string): Promise<{ mode: number; uid: number; gid: number; size: number } | undefined> {
    const sftp = await this.files();
    try {
      const st = await sftpCall<{ mode: number; uid: number; gid: number; size: number }>(sftp, (cb) => sftp.stat(path, cb));
      return { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size };
    } catch (err) {
      if ((err as { code?: number }).code === 2) return undefined; // SSH_FX_NO_SUCH_FILE
      throw err;
    }
  }

  /** rename(2) on the guest: replaces `to` atomically (posix-rename@openssh.com). */
  async renameOver(from: string, to: string): Promise<void> {
    const sftp = await this.files();
    await sftpCall(sftp, (cb) => sftp.ext_openssh_rename(from, to, cb));
  }

  /** link(2) on the guest (hardlink@openssh.com). */
  async hardlink(existing: string, link: string): Promise<void> {
    const sftp = await this.files();
    await sftpCall(sftp, (cb) => sftp.ext_openssh_hardlink(existing, link, cb));
  }

  async unlink(path: string): Promise<void> {
    const sftp = await this.files();
    await sftpCall(sftp, (cb) => sftp.unlink(path, cb));
  }

  close(): void {
    this.client.end();
  }

  /** Tears the connection down at once (a deadline passed): pending operations fail. */
  destroy(): void {
    this.dropped = true;
    this.client.destroy();
    // ssh2 leaves a socket alone once its peer has ended it: then no 'close' would ever fail what is pending.
    this.sock.destroy();
  }
}
