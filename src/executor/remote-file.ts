// Reading one file on a guest, and replacing one atomically: upload to a temporary name beside the
// target (under sudo: into the login user's temp dir, then `sudo -n install` beside the target),
// then rename(2), so a guest only ever sees the old file or the new one. Skipped when the guest's
// copy already has the same SHA-256. Used by `fleet push` and by anything that edits guest files.
import { createHash, randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { SshConnection, type ExecResult } from '../ssh/index.js';
import { shellQuote as q, wrapSudo } from './command.js';
import { StepError } from './errors.js';

export interface ReadRemoteOptions {
  sudo?: boolean;
  timeoutMs?: number;
}

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
}

export interface WriteRemoteOutcome {
  changed: boolean;
  /** Path of the backup, when one was made. */
  backup?: string;
}

const MISSING = 44; // exit status of the read script for "no such file"
const OWNER = /^(?:[A-Za-z0-9_][A-Za-z0-9._-]*)?(?::[A-Za-z0-9_][A-Za-z0-9._-]*)?$/;

/** `20261125T150102.123Z`: sortable, one per run, safe in a file name. */
export function backupSuffix(at = new Date()): string {
  return at.toISOString().replace(/[-:]/g, '');
}

/** The file's bytes, or undefined when it does not exist. Throws a StepError (step `read`). */
export async function readRemoteFile(conn: SshConnection, path: string, opts: ReadRemoteOptions = {}): Promise<Buffer | undefined> {
  const script = `f=${q(path)}; if [ -e "$f" ] || [ -L "$f" ]; then exec cat -- "$f"; fi; exit ${MISSING}`;
  const r = await remote(conn, 'read', path, script, opts);
  if (r.exitCode === MISSING && r.stdout.length === 0) return undefined;
  if (r.exitCode !== 0) throw failed(conn, 'read', path, r);
  return r.stdout;
}

/**
 * Makes the guest's `path` hold `data` (with `mode`/`owner` when given). changed=false when it
 * already did. Throws a StepError naming host, file and step; temporary files are removed on failure,
 * over a fresh connection if the guest dropped this one.
 */
export async function writeRemoteFile(conn: SshConnection, path: string, data: Buffer, opts: WriteRemoteOptions = {}): Promise<WriteRemoteOutcome> {
  if (opts.mode !== undefined && (!Number.isInteger(opts.mode) || opts.mode < 0 || opts.mode > 0o7777)) {
    throw new Error(`mode must be between 0 and 07777, got ${opts.mode}`);
  }
  if (opts.owner !== undefined && (opts.owner === '' || opts.owner === ':' || !OWNER.test(opts.owner))) {
    throw new Error(`owner must be user, user:group or :group, got '${opts.owner}'`);
  }
  const want = sha256(data);
  // mode and owner come with the check only when needed: `stat` is one more process per guest.
  const now = await probe(conn, path, opts, !!opts.sudo || opts.mode !== undefined || opts.owner !== undefined);
  if (now.existing?.sha256 === want) return fixMetadata(conn, path, now.existing, opts);
  const backup = opts.backup && now.existing ? `${path}.fleet-bak-${opts.backupSuffix ?? backupSuffix()}` : undefined;
  const beside = posix.join(posix.dirname(path), `.${posix.basename(path)}.fleet-tmp-${randomBytes(6).toString('hex')}`);
  const viaSftp = !opts.sudo && opts.owner === undefined &&
    (await step(conn, 'upload', path, [], false, () => sftpCanReplace(conn, !!backup)));
  // Without --mode the file keeps its old mode (SFTP stat costs no extra process), or gets the umask's.
  const oldMode = async () => now.existing?.mode ?? (now.existing ? ((await conn.statFile(path))?.mode ?? 0o644) & 0o7777 : undefined);
  const mode = opts.mode ?? (await step(conn, 'check', path, [], false, oldMode)) ?? 0o666 & ~now.umask;
  if (viaSftp) {
    await step(conn, 'upload', path, [beside], false, () => conn.uploadNew(beside, data, { mode }));
    if (backup) await step(conn, 'backup', path, [beside], false, () => conn.hardlink(path, backup));
    await step(conn, 'install', path, [beside], false, () => conn.renameOver(beside, path));
    return { changed: true, backup };
  }
  // Under sudo the login user may not write beside the target: upload privately, then install as root.
  const upload = opts.sudo ? `/tmp/.fleet-push-${randomBytes(6).toString('hex')}` : beside;
  await step(conn, 'upload', path, [upload], false, () => conn.uploadNew(upload, data, { mode: 0o600 }));
  const owner = opts.owner ?? (opts.sudo && now.existing ? `${now.existing.uid}:${now.existing.gid}` : undefined);
  const script = installScript({ upload, beside, path, want, mode, owner, backup, sudo: !!opts.sudo });
  const temps = opts.sudo ? [upload, beside] : [upload];
  const r = await step(conn, 'install', path, temps, !!opts.sudo, () => remote(conn, 'install', path, script, opts));
  if (r.exitCode !== 0) {
    // The script's trap removed its files, unless sudo refused to run it: the upload is still ours.
    await cleanup(conn, [upload], false);
    throw failed(conn, 'install', path, r);
  }
  return { changed: true, backup };
}

async function sftpCanReplace(conn: SshConnection, backup: boolean): Promise<boolean> {
  return (await conn.hasSftpExtension('posix-rename@openssh.com')) && (!backup || (await conn.hasSftpExtension('hardlink@openssh.com')));
}

interface Existing {
  sha256: string;
  /** Only when asked for (sudo, --mode, --owner). */
  mode?: number;
  uid?: number;
  gid?: number;
  user?: string;
  group?: string;
}

/** One command: the guest's umask, and the file's SHA-256 (and mode and owner if asked) if it exists. */
async function probe(conn: SshConnection, path: string, opts: WriteRemoteOptions, withStat: boolean): Promise<{ umask: number; existing?: Existing }> {
  const script = `f=${q(path)}; umask; if [ -d "$f" ]; then echo is-a-directory; elif [ -e "$f" ]; then ` +
    `${withStat ? `stat -L -c '%a %u %g %U %G' -- "$f" && ` : ''}sha256sum < "$f"; else echo missing; fi`;
  const r = await remote(conn, 'check', path, script, opts);
  if (r.exitCode !== 0) throw failed(conn, 'check', path, r);
  const [umaskText = '', ...rest] = r.stdout.toString().split('\n');
  const umask = parseInt(umaskText, 8) || 0o022;
  if (rest[0] === 'is-a-directory') throw stepError(conn, 'check', path, 'failed', 'is a directory (give the full target path)');
  if (rest[0] === 'missing') return { umask };
  const m = withStat ? /^([0-7]+) (\d+) (\d+) (\S+) (\S+)$/.exec(rest[0] ?? '') : undefined;
  const hash = /^([0-9a-f]{64})\b/.exec(rest[withStat ? 1 : 0] ?? '');
  if ((withStat && !m) || !hash) {
    throw stepError(conn, 'check', path, 'failed', `unexpected answer from the guest: ${JSON.stringify(r.stdout.toString().slice(0, 200))}`);
  }
  const existing: Existing = { sha256: hash[1]! };
  if (m) Object.assign(existing, { mode: parseInt(m[1]!, 8), uid: Number(m[2]), gid: Number(m[3]), user: m[4]!, group: m[5]! });
  return { umask, existing };
}

/** Same content: only mode or owner may need changing, in place (nothing to make atomic). */
async function fixMetadata(conn: SshConnection, path: string, e: Existing, opts: WriteRemoteOptions): Promise<WriteRemoteOutcome> {
  const [user = '', group = ''] = (opts.owner ?? '').split(':');
  const ownerOk = opts.owner === undefined ||
    ((user === '' || user === e.user || user === String(e.uid)) && (group === '' || group === e.group || group === String(e.gid)));
  const modeOk = opts.mode === undefined || opts.mode === e.mode;
  if (ownerOk && modeOk) return { changed: false };
  const script = [!modeOk && `chmod ${opts.mode!.toString(8)} -- ${q(path)}`, !ownerOk && `chown ${q(opts.owner!)} -- ${q(path)}`]
    .filter(Boolean).join(' && ');
  const r = await remote(conn, 'metadata', path, script, opts);
  if (r.exitCode !== 0) throw failed(conn, 'metadata', path, r);
  return { changed: true };
}

interface InstallPlan {
  upload: string;
  beside: string;
  path: string;
  want: string;
  mode: number;
  owner?: string;
  backup?: string;
  sudo: boolean;
}

/** The guest side of the install: check the upload, give it its mode/owner beside the target, rename. */
function installScript(p: InstallPlan): string {
  const [user = '', group = ''] = (p.owner ?? '').split(':');
  const mode = p.mode.toString(8);
  const lines = [
    'set -e',
    `src=${q(p.upload)}; tmp=${q(p.beside)}; dst=${q(p.path)}`,
    // Whatever happens below, no temporary file stays behind (after the rename there is none).
    `trap 'rm -f -- "$src" "$tmp"' EXIT`,
    `[ "$(sha256sum < "$src")" = "${p.want}  -" ] || { echo 'the uploaded copy does not match the local SHA-256' >&2; exit 1; }`,
    p.sudo
      ? `install -m ${mode}${user ? ` -o ${q(user)}` : ''}${group ? ` -g ${q(group)}` : ''} "$src" "$tmp"`
      : `chmod ${mode} "$tmp"${p.owner ? ` && chown ${q(p.owner)} "$tmp"` : ''}`,
    p.backup ? `if [ -e "$dst" ] || [ -L "$dst" ]; then ln -- "$dst" ${q(p.backup)}; fi` : '',
    'mv -f -- "$tmp" "$dst"',
  ];
  return lines.filter(Boolean).join('\n');
}

/** Runs a script (under `sudo -n` when asked); a lost connection or timeout becomes a StepError. */
async function remote(conn: SshConnection, stepName: string, path: string, script: string, opts: { sudo?: boolean; timeoutMs?: number }): Promise<ExecResult> {
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
async function step<T>(conn: SshConnection, stepName: string, path: string, temps: string[], sudo: boolean, work: () => Promise<T>): Promise<T> {
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

/** Removes temporary files; when this connection is gone, over a fresh one (bounded in time). */
async function cleanup(conn: SshConnection, paths: string[], sudo: boolean): Promise<boolean> {
  if (paths.length === 0) return true;
  const command = `rm -f -- ${paths.map(q).join(' ')}`;
  const attempt = async (c: SshConnection) => {
    const r = await c.exec(sudo ? wrapSudo(command) : command, { timeoutMs: 5000 });
    return r.exitCode === 0;
  };
  if (!conn.lost && (await attempt(conn).catch(() => false))) return true;
  // Give a dying connection a moment to report itself closed before deciding to reconnect.
  await new Promise((resolve) => setImmediate(resolve));
  if (!conn.lost) return false;
  let fresh: SshConnection | undefined;
  try {
    fresh = await SshConnection.connect({ ...conn.options, connectTimeoutMs: Math.min(conn.options.connectTimeoutMs, 5000) });
    return await attempt(fresh);
  } catch {
    return false;
  } finally {
    fresh?.close();
  }
}

/** SFTP errors carry a status code; say it the way a person reads it. */
function sftpMessage(err: unknown): string {
  const e = err as Error & { code?: number };
  const names: Record<number, string> = { 2: 'no such file or directory', 3: 'permission denied' };
  return (e.code !== undefined ? names[e.code] : undefined) ?? e.message;
}

function failed(conn: SshConnection, stepName: string, path: string, r: ExecResult): StepError {
  const stderr = r.stderr.toString();
  const said = stderr.trim().split('\n').filter(Boolean).at(-1) ?? (r.signal ? `killed by signal ${r.signal}` : '');
  return new StepError({ host: conn.options.name, step: stepName, path, status: 'failed', exitCode: r.exitCode, stderr },
    `exit status ${r.exitCode ?? r.signal}${said ? `: ${said}` : ''}`);
}

function stepError(conn: SshConnection, stepName: string, path: string, status: StepError['status'], reason: string, cause?: unknown): StepError {
  return new StepError({ host: conn.options.name, step: stepName, path, status }, reason, { cause });
}

/** Hashing a large file 500 times would cost more than sending it: once per buffer. */
const hashes = new WeakMap<Buffer, string>();
function sha256(data: Buffer): string {
  let h = hashes.get(data);
  if (!h) hashes.set(data, (h = createHash('sha256').update(data).digest('hex')));
  return h;
}
