// `run` on one guest: connect pinned, exec (optionally under sudo -n), classify the outcome.
import { SshConnection, SshError, targetCredentials, type ConnectionTarget, type Credentials, type KnownHosts } from '../ssh/index.js';
import { StepError } from './errors.js';
import { OutputCapture, outputFields } from './output-capture.js';
import type { HostResult } from './result.js';

/** A guest to act on: where and how to reach it (src/ssh/target.ts). */
export type GuestTarget = ConnectionTarget;

export interface SessionOptions {
  knownHosts: KnownHosts;
  credentials: Omit<Credentials, 'username'>;
  /** Private keys read from the targets' identity files, by path (a guest's own IdentityFile). */
  identities?: ReadonlyMap<string, Buffer>;
  connectTimeoutMs: number;
  /** Per-command timeout; the remote command is stopped when it fires. */
  timeoutMs?: number;
  /**
   * Further attempts to connect after a connection-level failure (refused, unreachable, timed out),
   * `connectRetryDelayMs` apart. Never after a command started: a command that ran is not repeated.
   */
  connectRetries?: number;
  connectRetryDelayMs?: number;
}

/** Failures worth another attempt: the guest was not reached; keys and logins refused stay refused. */
const RETRYABLE = new Set(['unreachable', 'timeout']);

/** Quotes a string for a POSIX shell: it arrives exactly as typed (quotes, $, newlines, globs). */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** `sudo -n` never asks for a password: a guest without NOPASSWD fails fast with sudo's message. */
export function wrapSudo(command: string): string {
  return `sudo -n -- /bin/sh -c ${shellQuote(command)}`;
}

function failure(t: GuestTarget, started: number, err: unknown): HostResult {
  if (err instanceof StepError) {
    return { host: t.name, address: t.address, status: err.status, exitCode: err.exitCode, stdout: '', stderr: err.stderr, changed: false, durationMs: Date.now() - started, error: err.message };
  }
  const e = err instanceof SshError ? err : new SshError(`${t.name}: ${(err as Error).message}`, 'unreachable', t.name);
  return { host: t.name, address: t.address, status: e.reason, exitCode: null, stdout: '', stderr: '', changed: false, durationMs: Date.now() - started, error: e.message };
}

export async function withConnection(t: GuestTarget, o: SessionOptions, work: (c: SshConnection, started: number) => Promise<HostResult>): Promise<HostResult> {
  const started = Date.now();
  let conn: SshConnection | undefined;
  for (let attempt = 0; !conn; attempt++) {
    try {
      conn = await connectOnce(t, o);
    } catch (err) {
      const retry = attempt < (o.connectRetries ?? 0) && err instanceof SshError && RETRYABLE.has(err.reason);
      if (!retry) {
        const r = failure(t, started, err);
        return attempt > 0 ? { ...r, error: `${r.error} (after ${attempt + 1} attempts)` } : r;
      }
      await new Promise((resolve) => setTimeout(resolve, o.connectRetryDelayMs ?? 1000));
    }
  }
  // The negotiated key exchange goes with the result: guests without the post-quantum one show.
  const kex = conn.kex ? { kex: conn.kex } : {};
  try {
    return { ...(await work(conn, started)), ...kex };
  } catch (err) {
    return { ...failure(t, started, err), ...kex };
  } finally {
    conn.close();
  }
}

function connectOnce(t: GuestTarget, o: SessionOptions): Promise<SshConnection> {
  return SshConnection.connect({
    name: t.name,
    address: t.address,
    port: t.port,
    jump: t.jump,
    proxyCommand: t.proxyCommand,
    hostKeyAlias: t.hostKeyAlias,
    knownHosts: o.knownHosts,
    credentials: targetCredentials(t, o.credentials, o.identities),
    identities: o.identities,
    connectTimeoutMs: t.connectTimeoutMs ?? o.connectTimeoutMs,
    ...(t.serverAliveIntervalMs ? { keepaliveIntervalMs: t.serverAliveIntervalMs } : {}),
  });
}

/** Where one guest's output goes as it arrives (files, say), besides the bounded copy in its result. */
export interface OutputSink {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
}

export interface RunOptions extends SessionOptions {
  sudo?: boolean;
  /** The same bytes fed to every guest's command (then EOF); default: EOF at once. */
  stdin?: Buffer;
  /** Receives every byte of the output; the result keeps a head and a tail of it (OUTPUT_KEEP). */
  sink?: OutputSink;
}

export function runCommandOn(t: GuestTarget, command: string, o: RunOptions): Promise<HostResult> {
  return withConnection(t, o, async (conn, started) => {
    const stdout = new OutputCapture();
    const stderr = new OutputCapture();
    const r = await conn.exec(o.sudo ? wrapSudo(command) : command, {
      timeoutMs: o.timeoutMs,
      ...(o.stdin ? { stdin: o.stdin } : {}),
      onStdout: (d) => {
        stdout.write(d);
        o.sink?.stdout(d);
      },
      onStderr: (d) => {
        stderr.write(d);
        o.sink?.stderr(d);
      },
    });
    const base = {
      host: t.name, address: t.address, exitCode: r.exitCode, signal: r.signal,
      ...outputFields('stdout', stdout.result()), ...outputFields('stderr', stderr.result()),
      changed: true, durationMs: Date.now() - started,
    };
    if (r.timedOut) return { ...base, status: 'timeout', error: `${t.name}: command still running after ${o.timeoutMs} ms; stopped` };
    if (r.exitCode === 0) return { ...base, status: 'ok' };
    if (r.exitCode === null && !r.signal) return { ...base, status: 'unreachable', error: `${t.name}: connection lost before the command finished` };
    return { ...base, status: 'failed', error: r.signal ? `${t.name}: killed by signal ${r.signal}` : `${t.name}: exit status ${r.exitCode}` };
  });
}
