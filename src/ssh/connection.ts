// One pinned SSH connection over ssh2: connect (host key checked against known_hosts, always),
// exec with a timeout, SFTP (and the few file operations the executor needs), close. Everything
// else in clonefleet goes through this, never ssh2.
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { AuthMethod, ClientChannel, ConnectConfig, ParsedKey, PublicKeyAuthMethod, SFTPWrapper } from 'ssh2';
import { authKey, pinsOf } from './connection-cache.js';
import { sftpCall, writePipelined } from './connection-sftp.js';
import { SshError, type ConnectOptions, type Route } from './connection-types.js';
import { fingerprintSha256, keyTypeOfBlob } from './fingerprint.js';
import { hostKeyAlgorithms } from './host-key-order.js';
import { kexAlgorithms } from './kex.js';
import { openRoute } from './jump-route.js';
import { lookup, verify, type HostKeyVerdict } from './known-hosts.js';

const { Client } = ssh2;

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
        `. ${o.enrolAdvice ?? 'Enrol it deliberately with `fleet keys trust` after checking the fingerprint.'}`;
    case 'revoked':
      return `host key of ${who} is REVOKED in known_hosts: ${keyType} ${fp}. Refused.`;
    default:
      return `HOST KEY OF ${who} HAS CHANGED: presented ${keyType} ${fp}, pinned ${pinned.join(', ')}. ` +
        'Someone could be eavesdropping (man-in-the-middle), or the host was re-keyed. Refused.';
  }
}

export class SshConnection {
  private dropped = false;
  /** The key exchange negotiated with the guest (mlkem768x25519-sha256 where it offers it). */
  kex: string | undefined;
  private fileSession?: Promise<SFTPWrapper>;

  private constructor(
    private readonly client: InstanceType<typeof Client>,
    readonly options: ConnectOptions,
    private readonly sock: Duplex,
  ) {
    client.once('close', () => (this.dropped = true));
  }

  /** True once the connection is gone (closed by us, dropped by the guest or the network). */
  get lost(): boolean {
    return this.dropped;
  }

  /**
   * Connects and authenticates; rejects with an SshError saying which stage (and which hop) failed
   * and why. The bytes go straight over TCP, through jump hosts' channels, or through a ProxyCommand.
   */
  static connect(o: ConnectOptions): Promise<SshConnection> {
    let route: Route;
    try {
      route = routeTo(o);
    } catch (err) {
      return Promise.reject(new SshError(`${o.name} (${o.address}:${o.port}): ${(err as Error).message}`, 'unreachable', o.name));
    }
    return SshConnection.connectVia(o, route);
  }

  /** connect() over a given route: jump hosts are reached this way, through the hop before them. */
  static connectVia(o: ConnectOptions, route: Route): Promise<SshConnection> {
    return new Promise((resolve, reject) => {
      const client = new Client();
      const who = `${o.name} (${o.address}:${o.port})`;
      let hostKey: { verdict: HostKeyVerdict; fingerprint: string; keyType: string; pinned: string[]; ignored: string[] } | undefined;
      let settled = false;
      let sock: Duplex | undefined;
      let timer: NodeJS.Timeout | undefined;
      const fail = (err: SshError | Promise<SshError>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.removeAllListeners('ready');
        client.on('error', () => {});
        // The route is let go once the error is known: a ProxyCommand is asked why before it is ended.
        void Promise.resolve(err).then((e) => {
          client.end();
          sock?.destroy();
          route.release();
          reject(e);
        });
      };
      // Lost on the way: a ProxyCommand's exit status and stderr say more than "closed".
      const failUnreachable = (message: string) => {
        if (settled) return;
        const explained = route.explain ? route.explain(message) : Promise.resolve(message);
        fail(explained.then((why) => new SshError(`${who}: ${why}`, 'unreachable', o.name)));
      };
      // One deadline covers TCP connect (or the channel through the jump host), banner, key exchange
      // and auth: a hanging guest cannot hold us. Jump hosts keep deadlines of their own, so waiting
      // for one does not eat the guest's.
      const arm = () => {
        if (settled) return;
        timer = setTimeout(
          () => fail(new SshError(`${who}: no SSH session within ${o.connectTimeoutMs} ms${sock ? '' : route.stage?.() ?? ''}`, 'timeout', o.name)),
          o.connectTimeoutMs,
        );
      };
      if (route.before) route.before.then(arm, () => {});
      else arm();
      client.on('ready', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.on('error', () => {});
        client.once('close', () => route.release());
        const conn = new SshConnection(client, o, sock!);
        conn.kex = kex;
        resolve(conn);
      });
      let kex: string | undefined;
      client.once('handshake', (negotiated: { kex: string }) => (kex = negotiated.kex));
      client.on('error', (err: Error & { level?: string }) => {
        if (hostKey && hostKey.verdict !== 'ok') {
          fail(new SshError(describeVerdict(o, hostKey.verdict, hostKey.keyType, hostKey.fingerprint, hostKey.pinned, hostKey.ignored), 'hostkey-refused', o.name, hostKey));
        } else if (err.level === 'client-authentication') {
          fail(new SshError(`${who}: authentication refused for user ${o.credentials.username}`, 'auth-refused', o.name));
        } else {
          failUnreachable(err.message);
        }
      });
      // Every connection closes at its end: build the error (and its stack) only when it is still news.
      client.on('close', () => settled || failUnreachable('connection closed during setup'));
      let key: ParsedKey | undefined;
      try {
        key = o.credentials.privateKey ? authKey(o.credentials.privateKey) : undefined;
      } catch (err) {
        return fail(new SshError(`${o.name}: ${(err as Error).message}`, 'auth-refused', o.name));
      }
      const username = o.credentials.username;
      // Pins are looked up under HostKeyAlias when there is one (port ignored then, as OpenSSH does).
      const keyHost = o.hostKeyAlias ?? o.address;
      const keyPort = o.hostKeyAlias ? 22 : o.port;
      const config: ConnectConfig = {
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
        // The post-quantum hybrid first, where the guest has it; else curve25519 and ssh2's others.
        algorithms: { ...hostKeyAlgorithms(pinsOf(o.knownHosts, keyHost, keyPort), keyHost, keyPort), kex: kexAlgorithms() } as ConnectConfig['algorithms'],
        hostVerifier: (key: Buffer) => {
          const keyType = keyTypeOfBlob(key) ?? 'unknown';
          const pins = pinsOf(o.knownHosts, keyHost, keyPort);
          const verdict = verify(pins, keyHost, keyPort, keyType, key);
          if (verdict === 'ok') return true;
          const found = lookup(pins, keyHost, keyPort);
          const pinned = found.pinned.map((p) => `${p.keyType} ${fingerprintSha256(p.key)}`);
          hostKey = { verdict, fingerprint: fingerprintSha256(key), keyType, pinned, ignored: found.ignored };
          return false;
        },
      };
      route.sock.then(
        (s) => {
          if (settled) return void s.destroy();
          sock = s;
          s.on('error', (err: NodeJS.ErrnoException) => failUnreachable(`${err.code ?? ''} ${err.message}`.trim()));
          client.connect({ ...config, sock: s });
        },
        (err: unknown) => fail(err instanceof SshError ? err : new SshError(`${who}: ${(err as Error).message}`, 'unreachable', o.name)),
      );
    });
  }

  /**
   * A direct-tcpip channel from this host to `address:port` (what `ssh -W` asks for): the stream a
   * connection to a guest behind this jump host runs over. Rejects with ssh2's error, whose `reason`
   * is the SSH channel-open failure code.
   */
  openChannelTo(address: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      try {
        // OpenSSH's `ssh -W` names the same originator.
        this.client.forwardOut('127.0.0.1', 65535, address, port, (err, stream) => (err ? reject(err) : resolve(stream)));
      } catch (err) {
        reject(err); // the connection is already gone
      }
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
   * can (unless `fsync` is false), closes. On failure the partial file is removed when the connection
   * still allows it. Once the writes are answered, fstat, fchmod, fchown, fsync and close go out
   * together and are awaited together: the guest's SFTP server handles them in order, and a push on a
   * busy guest waits for each answer (one round trip instead of four).
   */
  async uploadNew(
    path: string, data: Buffer, opts: { mode: number; inFlight?: number; uid?: number; gid?: number; fsync?: boolean },
  ): Promise<{ uid: number; mtime: number }> {
    const sftp = await this.files();
    const handle = await sftpCall<Buffer>(sftp, (cb) => sftp.open(path, 'wx', { mode: 0o600 }, cb));
    const sync = opts.fsync !== false && (await this.hasSftpExtension('fsync@openssh.com'));
    let closed = false;
    try {
      await writePipelined(sftp, handle, data, opts.inFlight ?? 16);
      // Its mtime is the guest's clock, its uid the login user's: what a caller compares or keeps.
      const stat = sftpCall<{ uid: number; mtime: number }>(sftp, (cb) => sftp.fstat(handle, cb));
      const rest = [
        sftpCall(sftp, (cb) => sftp.fchmod(handle, opts.mode, cb)),
        // -1: that one stays as it is (fchown(2)).
        opts.uid !== undefined || opts.gid !== undefined ? sftpCall(sftp, (cb) => sftp.fchown(handle, opts.uid ?? -1, opts.gid ?? -1, cb)) : undefined,
        sync ? sftpCall(sftp, (cb) => sftp.ext_openssh_fsync(handle, cb)) : undefined,
        sftpCall(sftp, (cb) => sftp.close(handle, cb)).then(() => void (closed = true)),
      ];
      const settled = await Promise.allSettled([stat, ...rest]);
      const failure = settled.find((r) => r.status === 'rejected');
      if (failure) throw failure.reason;
      const created = await stat;
      return { uid: created.uid, mtime: created.mtime };
    } catch (err) {
      // Settles even when the session is gone; the caller then removes the file over a new connection.
      const closing = closed ? Promise.resolve() : sftpCall(sftp, (cb) => sftp.close(handle, cb)).catch(() => {});
      await closing.then(() => sftpCall(sftp, (cb) => sftp.unlink(path, cb))).catch(() => {});
      throw err;
    }
  }

  /**
   * The umask new files get in `dir`, learnt by making and removing an empty directory `probe` there:
   * an empty directory shows no data, where a file created readable first would. The three requests
   * go out together (the server answers them in order): one round trip.
   */
  async umaskAt(probe: string): Promise<number> {
    const sftp = await this.files();
    const made = sftpCall(sftp, (cb) => sftp.mkdir(probe, { mode: 0o777 }, cb));
    const seen = sftpCall<{ mode: number }>(sftp, (cb) => sftp.stat(probe, cb));
    const removed = sftpCall(sftp, (cb) => sftp.rmdir(probe, cb));
    const [m, s] = await Promise.allSettled([made, seen, removed]);
    if (m.status === 'rejected') throw m.reason;
    if (s.status === 'rejected') throw s.reason;
    return 0o777 & ~s.value.mode;
  }

  /** A directory's entries (names, modes, mtimes in seconds of the guest's clock). */
  async listDir(dir: string): Promise<{ name: string; mode: number; mtime: number }[]> {
    const sftp = await this.files();
    const list = await sftpCall<{ filename: string; attrs: { mode: number; mtime: number } }[]>(sftp, (cb) => sftp.readdir(dir, cb));
    return list.map((e) => ({ name: e.filename, mode: e.attrs.mode, mtime: e.attrs.mtime }));
  }

  /** chmod(2) and chown(2) of a path over SFTP (symlinks followed, as by chmod and chown). */
  async setMetadata(path: string, m: { mode?: number; uid?: number; gid?: number }): Promise<void> {
    const sftp = await this.files();
    if (m.mode !== undefined) await sftpCall(sftp, (cb) => sftp.chmod(path, m.mode!, cb));
    if (m.uid !== undefined || m.gid !== undefined) await sftpCall(sftp, (cb) => sftp.chown(path, m.uid ?? -1, m.gid ?? -1, cb));
  }

  /**
   * Ends the SFTP session of the file operations (a deadline passed): what is pending fails with
   * SftpClosedError, the connection stays usable, and the next file operation opens a new session.
   */
  closeFiles(): void {
    const session = this.fileSession;
    this.fileSession = undefined;
    void session?.then((sftp) => sftp.end(), () => {});
  }

  async removeDir(path: string): Promise<void> {
    const sftp = await this.files();
    await sftpCall(sftp, (cb) => sftp.rmdir(path, cb));
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

/**
 * The route to the host of `o`. Its jump hosts are logged into as connections of their own: over the
 * hop before them, the first one over its own (direct) route.
 */
export function routeTo(o: ConnectOptions): Route {
  return openRoute(o, connectHop);
}

function connectHop(o: ConnectOptions, over?: Route): Promise<SshConnection> {
  return over ? SshConnection.connectVia(o, over) : SshConnection.connect(o);
}
