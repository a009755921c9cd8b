// Writing a guest file with what scp costs the guest: its SFTP server, one process. The target's
// size, mode and owner come from an SFTP stat; only when the size already matches does a second
// process hash the guest's copy (`sha256sum`). The bytes go to a temporary name beside the target,
// created exclusively and private, then get their mode (and a numeric owner) on the handle, fsync
// (fsync@openssh.com), and are renamed over the target (posix-rename@openssh.com). An owner given by
// name is the one case that costs a `chown` on the guest: SFTP knows only numbers.
import { posix } from 'node:path';
import type { SshConnection } from '../ssh/index.js';
import { shellQuote as q } from './command.js';
import { StepError } from './errors.js';
import { failed, metadataToFix, remote, STALE_TEMP_MINUTES, step, stepError, tempPrefix, type Existing, type WritePlan, type WriteRemoteOptions, type WriteRemoteOutcome } from './remote-steps.js';

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const NUMERIC_OWNER = /^(\d*)(?::(\d*))?$/;

/** Whether the guest's SFTP server can do this transfer (OpenSSH's can); false when it has none. */
export async function sftpWriteUsable(conn: SshConnection, path: string, backup: boolean, timeoutMs?: number): Promise<boolean> {
  try {
    return await bounded(conn, path, timeoutMs, async () =>
      (await conn.hasSftpExtension('posix-rename@openssh.com')) && (!backup || (await conn.hasSftpExtension('hardlink@openssh.com'))));
  } catch (err) {
    if (err instanceof StepError) throw err;
    return false; // no SFTP subsystem: the caller falls back to a transfer through a guest command
  }
}

/** `uid:gid` numbers (either may be absent) when the owner is given by numbers alone. */
function numericOwner(owner: string | undefined): { uid?: number; gid?: number } | undefined {
  const m = owner === undefined ? undefined : NUMERIC_OWNER.exec(owner);
  if (!m) return undefined;
  return { ...(m[1] ? { uid: Number(m[1]) } : {}), ...(m[2] ? { gid: Number(m[2]) } : {}) };
}

/**
 * The transfer, bounded by `opts.timeoutMs` as a whole (an SFTP request has no deadline of its own):
 * past it the SFTP session is ended, which fails what is pending and removes the temporary file.
 */
export async function writeOverSftp(conn: SshConnection, path: string, data: Buffer, p: WritePlan, opts: WriteRemoteOptions): Promise<WriteRemoteOutcome> {
  return bounded(conn, path, opts.timeoutMs, () => transfer(conn, path, data, p, opts));
}

/** `work`, or a timeout StepError once `ms` have passed (the SFTP session then ended). */
export async function bounded<T>(conn: SshConnection, path: string, ms: number | undefined, work: () => Promise<T>): Promise<T> {
  if (!ms) return work();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      conn.closeFiles();
      reject(stepError(conn, 'upload', path, 'timeout', `still running after ${ms} ms; stopped`));
    }, ms);
  });
  const doing = work();
  doing.catch(() => {}); // past the deadline its failure is no longer news
  try {
    return await Promise.race([doing, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function transfer(conn: SshConnection, path: string, data: Buffer, p: WritePlan, opts: WriteRemoteOptions): Promise<WriteRemoteOutcome> {
  const beside = p.beside;
  // Without --mode a new file takes the guest's umask: its probe goes out with the stat (the server
  // answers in order), so a first push waits for one answer, not two. Unused when the file exists.
  const umask = opts.mode === undefined ? conn.umaskAt(beside) : undefined;
  umask?.catch(() => {});
  const st = await step(conn, 'check', path, [], false, () => conn.statFile(path));
  // Settled before anything else uses the name (it is answered by now).
  await umask?.catch(() => {});
  if (st && (st.mode & S_IFMT) === S_IFDIR) throw stepError(conn, 'check', path, 'failed', 'is a directory (give the full target path)');
  const numeric = numericOwner(opts.owner);
  if (st && st.size === data.length) {
    const names = opts.owner !== undefined && !numeric;
    // `exec`: the shell becomes the hash, one process.
    const script = `${names ? `stat -L -c '%U %G' -- ${q(path)} && ` : ''}exec sha256sum < ${q(path)}`;
    const r = await remote(conn, 'check', path, script, opts);
    if (r.exitCode !== 0) throw failed(conn, 'check', path, r);
    const out = r.stdout.toString().split('\n');
    const [user, group] = names ? (out.shift() ?? '').split(' ') : [];
    const hash = /^([0-9a-f]{64}) {2}-$/.exec(out[0] ?? '')?.[1];
    if (!hash) throw stepError(conn, 'check', path, 'failed', `unexpected answer from the guest: ${JSON.stringify(r.stdout.toString().slice(0, 200))}`);
    if (hash === p.want) {
      const existing: Existing = { sha256: hash, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, user, group };
      return fixMetadata(conn, path, existing, opts, numeric);
    }
  }
  const mode = opts.mode ?? (st ? st.mode & 0o7777 : 0o666 & ~(await step(conn, 'upload', path, [], false, () => creating(conn, path, beside, () => umask!))));
  const made = await step(conn, 'upload', path, [beside], false,
    () => creating(conn, path, beside, () => conn.uploadNew(beside, data, { mode, ...numeric })));
  // Its listing goes out with the steps below and is answered with them.
  const swept = sweepStale(conn, path, beside, made.mtime);
  const backup = opts.backup && st ? p.backupPath : undefined;
  if (backup) await step(conn, 'backup', path, [beside], false, () => conn.hardlink(path, backup));
  if (opts.owner !== undefined && !numeric) {
    const r = await step(conn, 'install', path, [beside], false, () => remote(conn, 'install', path, `exec chown -- ${q(opts.owner!)} ${q(beside)}`, opts));
    if (r.exitCode !== 0) {
      await step(conn, 'install', path, [beside], false, () => Promise.reject(failed(conn, 'install', path, r)));
    }
  }
  try {
    await step(conn, 'install', path, [beside], false, () => conn.renameOver(beside, path));
  } finally {
    await swept;
  }
  return { changed: true, ...(backup ? { backup } : {}) };
}

/** Creating a file beside the target: say why it cannot be, as the shell would. */
async function creating<T>(conn: SshConnection, path: string, beside: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (code === 2) throw stepError(conn, 'upload', path, 'failed', `no such directory: ${posix.dirname(beside)}`, err);
    if (code === 3) throw stepError(conn, 'upload', path, 'failed', `cannot create ${beside}: Permission denied`, err);
    throw err;
  }
}

/** Same content: only mode or owner may need changing, in place (nothing to make atomic). */
async function fixMetadata(
  conn: SshConnection, path: string, e: Existing, opts: WriteRemoteOptions, numeric: { uid?: number; gid?: number } | undefined,
): Promise<WriteRemoteOutcome> {
  const fix = metadataToFix(e, opts);
  if (fix.mode === undefined && fix.owner === undefined) return { changed: false };
  if (fix.owner !== undefined && !numeric) {
    const script = `${fix.mode !== undefined ? `chmod ${fix.mode.toString(8)} -- ${q(path)} && ` : ''}exec chown -- ${q(fix.owner)} ${q(path)}`;
    const r = await remote(conn, 'metadata', path, script, opts);
    if (r.exitCode !== 0) throw failed(conn, 'metadata', path, r);
    return { changed: true };
  }
  await step(conn, 'metadata', path, [], false, () => conn.setMetadata(path, { mode: fix.mode, ...(fix.owner !== undefined ? numeric : {}) }));
  return { changed: true };
}

/**
 * Removes temporary files of earlier pushes to this path that nobody has written to for
 * STALE_TEMP_MINUTES (a push cut off where nothing could clean up after it). Ages are measured on the
 * guest's clock (`now`: our own new file's mtime), so a guest whose clock is off loses nothing in flight.
 */
async function sweepStale(conn: SshConnection, path: string, ours: string, now: number): Promise<void> {
  const prefix = tempPrefix(path);
  const dir = posix.dirname(prefix);
  const base = posix.basename(prefix);
  const stale = /^[0-9a-f]{12}$/;
  try {
    for (const e of await conn.listDir(dir)) {
      if (!e.name.startsWith(base) || !stale.test(e.name.slice(base.length)) || `${dir}/${e.name}` === ours) continue;
      if (now - e.mtime <= STALE_TEMP_MINUTES * 60) continue;
      const type = e.mode & S_IFMT;
      if (type === S_IFREG) await conn.unlink(`${dir}/${e.name}`);
      else if (type === S_IFDIR) await conn.removeDir(`${dir}/${e.name}`).catch(() => {}); // a umask probe cut off
    }
  } catch {
    // Best effort: an unreadable directory leaves them to the next push.
  }
}
