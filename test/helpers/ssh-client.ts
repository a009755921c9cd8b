// A small promise wrapper around ssh2's Client for tests that talk to an SSH server directly:
// connect with the host key pinned (never accept-all), exec collecting stdout/stderr/code/signal,
// SFTP, and a probe that only records which host key a server presents.
import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';
import type { ClientChannel, SFTPWrapper } from 'ssh2';

const { Client } = ssh2;
type SshClient = InstanceType<typeof Client>;

export interface ConnectOptions {
  host: string;
  port: number;
  username: string;
  privateKey?: Buffer | string;
  password?: string;
  /** Host keys accepted for this server, as the base64 blobs of known_hosts lines. Empty: none. */
  pins: string[];
  readyTimeout?: number;
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface ExecOptions {
  /** Written to the command's stdin, then EOF. Without it stdin is closed at once. */
  stdin?: string;
  timeoutMs?: number;
  /** Environment variables the client asks the server to set (sshd's AcceptEnv decides). */
  env?: Record<string, string>;
}

/** An error from ssh2 with the fields it adds (`level`: client-socket, client-authentication, ...). */
export type SshClientError = Error & { level?: string; code?: string };

/** SHA256 fingerprint as OpenSSH prints it, of a key blob given as base64 or bytes. */
export function fingerprint(blob: string | Buffer): string {
  const bytes = typeof blob === 'string' ? Buffer.from(blob, 'base64') : blob;
  return `SHA256:${createHash('sha256').update(bytes).digest('base64').replace(/=+$/, '')}`;
}

/** One open, authenticated connection. close() is idempotent. */
export class SshSession {
  private closed = false;

  constructor(
    readonly client: SshClient,
    /** The host key blob the server presented (base64). */
    readonly hostKey: string,
  ) {}

  /** Runs one command; resolves once the channel closes with an exit status, rejects otherwise. */
  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const t0 = performance.now();
    const timeoutMs = opts.timeoutMs ?? 20_000;
    return new Promise((resolve, reject) => {
      this.client.exec(command, { env: opts.env }, (err, channel) => {
        if (err) return reject(err);
        let stdout = '';
        let stderr = '';
        let code: number | null = null;
        let signal: string | null = null;
        let exited = false;
        const timer = setTimeout(() => {
          cleanup();
          channel.close();
          reject(new Error(`'${command}' did not finish within ${timeoutMs} ms`));
        }, timeoutMs);
        const onClientClose = () => {
          cleanup();
          reject(new Error(`connection closed before '${command}' exited`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          this.client.off('close', onClientClose);
        };
        this.client.once('close', onClientClose);
        channel.on('data', (d: Buffer) => (stdout += d.toString()));
        channel.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        channel.on('exit', (c: number | null, s?: string) => {
          exited = true;
          code = c;
          signal = s ?? null;
        });
        channel.on('close', () => {
          cleanup();
          if (!exited) return reject(new Error(`channel of '${command}' closed without an exit status`));
          resolve({ code, signal, stdout, stderr, durationMs: performance.now() - t0 });
        });
        if (opts.stdin !== undefined) channel.end(opts.stdin);
        else channel.end();
      });
    });
  }

  /** Starts a command and hands back its channel (for tests that close it early or signal it). */
  start(command: string): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, channel) => (err ? reject(err) : resolve(channel)));
    });
  }

  sftp(): Promise<SFTPWrapper> {
    return new Promise((resolve, reject) => {
      this.client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp)));
    });
  }

  /** Waits until the connection is gone (for tests that expect the server to cut it). */
  closedWithin(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.client.off('close', onClose);
        resolve(false);
      }, ms);
      const onClose = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.client.once('close', onClose);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.end();
    this.client.destroy();
  }
}

/** Connects and authenticates; the host key must be one of `pins`. Rejects with ssh2's error. */
export function connect(opts: ConnectOptions): Promise<SshSession> {
  const client = new Client();
  let presented = '';
  return new Promise<SshSession>((resolve, reject) => {
    const onReady = () => {
      client.off('error', onError);
      client.on('error', () => {}); // later errors surface through exec/close
      client.on('close', () => client.removeAllListeners('error'));
      resolve(new SshSession(client, presented));
    };
    const onError = (err: Error) => {
      client.off('ready', onReady);
      client.on('error', () => {}); // ssh2 may report the same failure again while tearing down
      client.destroy();
      reject(err);
    };
    client.once('ready', onReady);
    client.once('error', onError);
    client.connect({
      host: opts.host,
      port: opts.port,
      username: opts.username,
      privateKey: opts.privateKey,
      password: opts.password,
      tryKeyboard: false,
      agent: undefined,
      readyTimeout: opts.readyTimeout ?? 10_000,
      hostVerifier: (key: Buffer) => {
        presented = key.toString('base64');
        return opts.pins.includes(presented);
      },
    });
  });
}

/**
 * The host key blob (base64) a server presents, without authenticating: the verifier records it and
 * refuses, so the connection ends in the handshake.
 */
export function presentedHostKey(host: string, port: number, readyTimeout = 5_000): Promise<string> {
  const client = new Client();
  let presented: string | undefined;
  return new Promise<string>((resolve, reject) => {
    const finish = (err?: Error) => {
      client.removeAllListeners('error');
      client.on('error', () => {});
      client.destroy();
      if (presented !== undefined) resolve(presented);
      else reject(err ?? new Error(`${host}:${port} presented no host key`));
    };
    client.once('error', (err) => finish(err));
    client.once('ready', () => finish());
    client.connect({
      host,
      port,
      username: 'probe',
      readyTimeout,
      hostVerifier: (key: Buffer) => {
        presented = key.toString('base64');
        return false;
      },
    });
  });
}
