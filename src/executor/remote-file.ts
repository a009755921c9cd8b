// Reading one file on a guest, and replacing one atomically: the new bytes go to a temporary name
// beside the target, then rename(2) puts them in place, so a guest only ever sees the old file or the
// new one. Skipped when the guest's copy already has the same SHA-256. As the login user: SFTP alone
// (remote-sftp.ts: one guest process, a hash command only when the sizes match). Under sudo: one guest
// process that checks and then receives the bytes on stdin (remote-stream.ts; small files), or an SFTP
// upload installed by a root command (large files). Used by `fleet push` and by anything that edits
// guest files (`fleet cron apply`).
import { randomBytes } from 'node:crypto';
import type { SshConnection } from '../ssh/index.js';
import { shellQuote as q, wrapSudo } from './command.js';
import { cleanup, failed, metadataToFix, overFreshConnection, OWNER, parseProbe, probeScript, remote, sha256, step, tempPrefix, type Existing, type WritePlan, type WriteRemoteOptions, type WriteRemoteOutcome } from './remote-steps.js';

export type { WriteRemoteOptions, WriteRemoteOutcome } from './remote-steps.js';
import { sftpWriteUsable, writeOverSftp } from './remote-sftp.js';
import { writeStreamed } from './remote-stream.js';

export interface ReadRemoteOptions {
  sudo?: boolean;
  timeoutMs?: number;
}

/**
 * Up to this size a push costs the guest one process (check and receive in one); above it, SFTP's
 * pipelined writes are worth a second process (against OpenSSH ~3x the throughput of a stream).
 */
export const STREAM_MAX = 16 << 20;

const MISSING = 44; // exit status of the read script for "no such file"

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
  const plan = {
    want: sha256(data),
    beside: `${tempPrefix(path)}${randomBytes(6).toString('hex')}`,
    backupPath: `${path}.fleet-bak-${opts.backupSuffix ?? backupSuffix()}`,
    // Mode and owner come with the check only when asked for: `stat` is one more process per guest.
    withStat: opts.mode !== undefined || opts.owner !== undefined,
  };
  const transfer = opts.transfer ?? 'auto';
  if (transfer === 'stream') return writeStreamed(conn, path, data, plan, opts);
  // As the login user, SFTP alone (one guest process, as scp); under sudo the root step is a command.
  if (!opts.sudo && (await sftpWriteUsable(conn, path, !!opts.backup, opts.timeoutMs))) return writeOverSftp(conn, path, data, plan, opts);
  if (transfer === 'auto' && data.length <= STREAM_MAX) return writeStreamed(conn, path, data, plan, opts);
  return writeViaSftp(conn, path, data, plan, opts);
}

/**
 * What the guest's `path` holds compared to `want` (a SHA-256), looked at over a new connection: for
 * when the link dropped at a moment that leaves the outcome open. Never throws.
 */
export async function verifyRemoteFile(
  conn: SshConnection, path: string, want: string, opts: ReadRemoteOptions = {},
): Promise<'match' | 'differs' | 'missing' | { error: string }> {
  const script = `f=${q(path)}; if [ -e "$f" ]; then sha256sum < "$f"; else echo missing; fi`;
  try {
    const r = await overFreshConnection(conn, (c) => c.exec(opts.sudo ? wrapSudo(script) : script, { timeoutMs: Math.min(opts.timeoutMs ?? 30_000, 30_000) }));
    const said = r.stdout.toString().trim();
    if (r.exitCode !== 0) return { error: r.timedOut ? 'no answer in time' : `exit status ${r.exitCode ?? r.signal ?? '?'}` };
    if (said === 'missing') return 'missing';
    return said === `${want}  -` ? 'match' : 'differs';
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** The SFTP transfer: a check command, the upload, then a rename (or, under sudo, `install` and `mv`). */
async function writeViaSftp(conn: SshConnection, path: string, data: Buffer, p: WritePlan, opts: WriteRemoteOptions): Promise<WriteRemoteOutcome> {
  const probed = await remote(conn, 'check', path, probeScript(path, p.withStat || !!opts.sudo), opts);
  if (probed.exitCode !== 0) throw failed(conn, 'check', path, probed);
  const now = parseProbe(conn, path, probed.stdout.toString(), p.withStat || !!opts.sudo);
  if (now.existing?.sha256 === p.want) return fixMetadata(conn, path, now.existing, opts);
  const backup = opts.backup && now.existing ? p.backupPath : undefined;
  const beside = p.beside;
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
  const script = installScript({ upload, beside, path, want: p.want, mode, owner, backup, sudo: !!opts.sudo });
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

/** Same content: only mode or owner may need changing, in place (nothing to make atomic). */
async function fixMetadata(conn: SshConnection, path: string, e: Existing, opts: WriteRemoteOptions): Promise<WriteRemoteOutcome> {
  const fix = metadataToFix(e, opts);
  if (fix.mode === undefined && fix.owner === undefined) return { changed: false };
  const script = [fix.mode !== undefined && `chmod ${fix.mode.toString(8)} -- ${q(path)}`, fix.owner && `chown ${q(fix.owner)} -- ${q(path)}`]
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
