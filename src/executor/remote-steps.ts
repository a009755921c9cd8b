// The pieces every way of writing a guest file shares: the check (SHA-256, umask, mode and owner),
// running a step so that its failure names host, file and step, and removing temporary files.
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { SshConnection, type ExecResult } from '../ssh/index.js';
import { shellQuote as q, wrapSudo } from './command.js';
import { StepError } from './errors.js';

/** How a guest file is written (writeRemoteFile's options). */
export interface WriteRemoteOptions {
  sudo?: boolean;
  /** Permission bits of the new file; default: the old file's, or 0666 less the guest's umask. */
  mode?: number;
  /** `user`, `user:group` or `:group`; default: the old file's owner under sudo, else the login user. */
  owner?: string;
  /** Keep the previous version as `<path>.fleet-bak-<suffix>` (a hard link to the old file). */
  backup?: boolean;
  /** Suffix for the backup; default: a UTC timestamp (pass one per run so all guests agree). */
  backupSuffix?: string;
  /** Per remote command run along the way. */
  timeoutMs?: number;
  /**
   * `auto` (default): SFTP as the login user (the stream when the guest has no usable SFTP server);
   * under sudo `stream` up to STREAM_MAX bytes, `sftp` above.
   */
  transfer?: 'auto' | 'stream' | 'sftp';
}

export interface WriteRemoteOutcome {
  changed: boolean;
  /** Path of the backup, when one was made. */
  backup?: string;
}

/** What the writer decided before the transfer: the wanted SHA-256, the temporary and backup paths. */
export interface WritePlan {
  want: string;
  beside: string;
  backupPath: string;
  withStat: boolean;
}

export const OWNER = /^(?:[A-Za-z0-9_][A-Za-z0-9._-]*)?(?::[A-Za-z0-9_][A-Za-z0-9._-]*)?$/;

export interface Existing {
  sha256: string;
  /** Only when asked for (sudo, --mode, --owner). */
  mode?: number;
  uid?: number;
  gid?: number;
  user?: string;
  group?: string;
}

/** Where a push puts its bytes before the rename: beside the target, `.NAME.fleet-tmp-` and 12 hex digits. */
export function tempPrefix(path: string): string {
  // Always with a `/` (`./.f.fleet-tmp-...` for a relative `f`): the guest script takes the directory from it.
  return `${posix.dirname(path)}/.${posix.basename(path)}.fleet-tmp-`;
}

/** Minutes without a write after which another push's temporary file is taken as abandoned. */
export const STALE_TEMP_MINUTES = 10;

/**
 * Shell text printing the guest's umask, then `is-a-directory`, `missing`, or [stat line and] SHA-256.
 * First it removes temporary files of earlier pushes to this path that nobody has written to for
 * STALE_TEMP_MINUTES (a push cut off where nothing could clean up after it); the glob costs no process
 * when there are none.
 */
export function probeScript(path: string, withStat: boolean): string {
  const stale = `for t in ${q(tempPrefix(path))}????????????; do if [ -f "$t" ] && [ -n "$(find "$t" -prune -mmin +${STALE_TEMP_MINUTES})" ]; ` +
    'then rm -f -- "$t"; fi; done 2>/dev/null; ';
  return `${stale}f=${q(path)}; umask; if [ -d "$f" ]; then echo is-a-directory; elif [ -e "$f" ]; then ` +
    `${withStat ? `stat -L -c '%a %u %g %U %G' -- "$f" && ` : ''}sha256sum < "$f"; else echo missing; fi`;
}

/** Reads probeScript's answer. */
export function parseProbe(conn: SshConnection, path: string, stdout: string, withStat: boolean): { umask: number; existing?: Existing } {
  const [umaskText = '', ...rest] = stdout.split('\n');
  const umask = parseInt(umaskText, 8) || 0o022;
  if (rest[0] === 'is-a-directory') throw stepError(conn, 'check', path, 'failed', 'is a directory (give the full target path)');
  if (rest[0] === 'missing') return { umask };
  const m = withStat ? /^([0-7]+) (\d+) (\d+) (\S+) (\S+)$/.exec(rest[0] ?? '') : undefined;
  const hash = /^([0-9a-f]{64})\b/.exec(rest[withStat ? 1 : 0] ?? '');
  if ((withStat && !m) || !hash) {
    throw stepError(conn, 'check', path, 'failed', `unexpected answer from the guest: ${JSON.stringify(stdout.slice(0, 200))}`);
  }
  const existing: Existing = { sha256: hash[1]! };
  if (m) Object.assign(existing, { mode: parseInt(m[1]!, 8), uid: Number(m[2]), gid: Number(m[3]), user: m[4]!, group: m[5]! });
  return { umask, existing };
}

/** Same content: which of the requested mode and owner the file lacks. */
export function metadataToFix(e: Existing, opts: { mode?: number; owner?: string }): { mode?: number; owner?: string } {
  const [user = '', group = ''] = (opts.owner ?? '').split(':');
  const ownerOk = opts.owner === undefined ||
    ((user === '' || user === e.user || user === String(e.uid)) && (group === '' || group === e.group || group === String(e.gid)));
  return { ...(opts.mode !== undefined && opts.mode !== e.mode ? { mode: opts.mode } : {}), ...(ownerOk ? {} : { owner: opts.owner }) };
}

/** Runs a script (under `sudo -n` when asked); a lost connection or timeout becomes a StepError. */
export async function remote(conn: SshConnection, stepName: string, path: string, script: string, opts: { sudo?: boolean; timeoutMs?: number }): Promise<ExecResult> {
  let r: ExecResult;
  try {
    r = await conn.exec(opts.sudo ? wrapSudo(script) : script, { timeoutMs: opts.timeoutMs });
  } catch (err) {
    throw stepError(conn, stepName, path, 'unreachable', `connection lost (${(err as Error).message})`, err);
  }
  if (r.timedOut) throw stepError(conn, stepName, path, 'timeout', `still running after ${opts.timeoutMs} ms; stopped`);
  if (r.exitCode === null && !r.signal) throw stepError(conn, stepName, path, 'unreachable', 'connection lost before the step finished');
  return r;
}

/** Runs one step; on failure removes `temps` (over a new connection if need be) and throws a StepError. */
export async function step<T>(conn: SshConnection, stepName: string, path: string, temps: string[], sudo: boolean, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const clean = await cleanup(conn, temps, sudo);
    const left = clean ? '' : `; temporary file ${temps.join(', ')} may remain`;
    if (err instanceof StepError) {
      if (clean) throw err;
      throw new StepError(err, `${err.reason}${left}`, { cause: err.cause });
    }
    const lost = conn.lost;
    throw stepError(conn, stepName, path, lost ? 'unreachable' : 'failed', `${lost ? 'connection lost' : sftpMessage(err)}${left}`, err);
  }
}

/**
 * Removes temporary files: over this connection while it answers, else over a fresh one (bounded in
 * time). A connection that cannot run `rm` (gone, dying, no answer) is finished off here: waiting for
 * it to report itself closed is what used to leave files behind.
 */
export async function cleanup(conn: SshConnection, paths: string[], sudo: boolean): Promise<boolean> {
  if (paths.length === 0) return true;
  const command = `rm -f -- ${paths.map(q).join(' ')}`;
  const attempt = (c: SshConnection) => c.exec(sudo ? wrapSudo(command) : command, { timeoutMs: 5000 });
  if (!conn.lost) {
    const r = await attempt(conn).catch(() => undefined);
    if (r?.exitCode === 0) return true;
    // rm ran and failed (sudo refused, ...): another connection would fare no better.
    if (r && r.exitCode !== null) return false;
    conn.destroy();
  }
  // A link that just failed may fail again (a flaky network, an overloaded guest): a few tries, 15 s at most.
  const until = Date.now() + CLEANUP_BUDGET_MS;
  for (let tries = 0; tries < 3 && Date.now() < until; tries++) {
    const r = await overFreshConnection(conn, attempt).catch(() => undefined);
    if (r?.exitCode === 0) return true;
    if (r && r.exitCode !== null) return false;
  }
  return false;
}

/** How long cleanup() keeps trying over new connections (each: connect and `rm`, 5 s each at most). */
export const CLEANUP_BUDGET_MS = 15_000;

/** Runs `work` over a new connection to the same guest (connect bounded to 5 s), then closes it. */
export async function overFreshConnection<T>(conn: SshConnection, work: (c: SshConnection) => Promise<T>): Promise<T> {
  const fresh = await SshConnection.connect({ ...conn.options, connectTimeoutMs: Math.min(conn.options.connectTimeoutMs, 5000) });
  try {
    return await work(fresh);
  } finally {
    fresh.close();
  }
}

/** SFTP errors carry a status code; say it the way a person reads it. */
function sftpMessage(err: unknown): string {
  const e = err as Error & { code?: number };
  const names: Record<number, string> = { 2: 'no such file or directory', 3: 'permission denied' };
  return (e.code !== undefined ? names[e.code] : undefined) ?? e.message;
}

/** A step's command failed. `ours`: the command is our own script, whose exit status tells nobody anything. */
export function failed(conn: SshConnection, stepName: string, path: string, r: ExecResult, ours = false): StepError {
  const stderr = r.stderr.toString();
  // The shell's own complaints start with its name and line number: the guest's words are what follows.
  const said = stderr.trim().split('\n').filter(Boolean).at(-1)?.replace(/^(?:\S*\/)?(?:sh|dash|bash): (?:line )?\d+: /, '') ??
    (r.signal ? `killed by signal ${r.signal}` : '');
  return new StepError({ host: conn.options.name, step: stepName, path, status: 'failed', exitCode: ours ? null : r.exitCode, stderr },
    ours && said ? said : `exit status ${r.exitCode ?? r.signal}${said ? `: ${said}` : ''}`);
}

export function stepError(conn: SshConnection, stepName: string, path: string, status: StepError['status'], reason: string, cause?: unknown): StepError {
  return new StepError({ host: conn.options.name, step: stepName, path, status }, reason, { cause });
}

/** Hashing a large file 500 times would cost more than sending it: once per buffer. */
const hashes = new WeakMap<Buffer, string>();
export function sha256(data: Buffer): string {
  let h = hashes.get(data);
  if (!h) hashes.set(data, (h = createHash('sha256').update(data).digest('hex')));
  return h;
}
