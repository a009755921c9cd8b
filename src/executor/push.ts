// `push` on one guest: connect pinned, make the guest's file hold the local bytes (atomic, mode and
// owner, skipped when the SHA-256 already matches), within a deadline; classify the outcome.
import type { SshConnection } from '../ssh/index.js';
import { withConnection, type GuestTarget, type SessionOptions } from './command.js';
import { StepError } from './errors.js';
import { verifyRemoteFile, writeRemoteFile, type WriteRemoteOptions } from './remote-file.js';
import { CLEANUP_BUDGET_MS, sha256 } from './remote-steps.js';
import type { HostResult } from './result.js';

export type PushOptions = SessionOptions & Omit<WriteRemoteOptions, 'timeoutMs'>;

/**
 * After the deadline closed the connection, how long the transfer may take to wind up (remove its
 * temporary file over a new connection) before it is abandoned.
 */
const WIND_UP_MS = CLEANUP_BUDGET_MS + 12_000;

/**
 * `data` is the local file, read once by the caller and shared by every guest. `timeoutMs` bounds the
 * whole transfer on this guest (not the connect): when it passes, the connection is torn down and the
 * guest is reported as timed out; its file is then either the old one or the new one, never a mix.
 */
export function pushFileOn(t: GuestTarget, data: Buffer, remotePath: string, o: PushOptions): Promise<HostResult> {
  return withConnection(t, o, async (conn, started) => {
    const opts = { sudo: o.sudo, mode: o.mode, owner: o.owner, backup: o.backup, backupSuffix: o.backupSuffix, timeoutMs: o.timeoutMs, transfer: o.transfer };
    const outcome = await underDeadline(conn, remotePath, o.timeoutMs, () => writeRemoteFile(conn, remotePath, data, opts))
      .catch((err: unknown) => checkAfterLostLink(conn, remotePath, data, opts, err));
    return {
      host: t.name, address: t.address, status: 'ok', exitCode: 0, stdout: '', stderr: '',
      changed: outcome.changed, ...(outcome.backup ? { backup: outcome.backup } : {}), durationMs: Date.now() - started,
    };
  });
}

/**
 * The link dropped while the file was being installed: the rename may have happened. Look over a new
 * connection: the new content in place is a success; anything else is reported with what was seen.
 */
async function checkAfterLostLink(
  conn: SshConnection, path: string, data: Buffer, opts: WriteRemoteOptions, err: unknown,
): Promise<{ changed: boolean; backup?: string }> {
  if (!(err instanceof StepError) || err.status !== 'unreachable' || (err.step !== 'install' && err.step !== 'upload')) throw err;
  const seen = await verifyRemoteFile(conn, path, sha256(data), opts);
  if (seen === 'match') return { changed: true };
  const what = seen === 'differs' ? 'verified over a new connection: the file does not have the new content (the push did not happen)'
    : seen === 'missing' ? 'verified over a new connection: the file does not exist (the push did not happen)'
    : `outcome unknown: the file may be in place (could not verify over a new connection: ${seen.error})`;
  throw new StepError(err, `${err.reason}; ${what}`, { cause: err });
}

async function underDeadline<T>(conn: SshConnection, path: string, ms: number | undefined, work: () => Promise<T>): Promise<T> {
  if (!ms) return work();
  let late = false;
  let abandon: NodeJS.Timeout | undefined;
  const timedOut = (cause: unknown, left = '') =>
    new StepError({ host: conn.options.name, step: cause instanceof StepError ? cause.step : 'push', path, status: 'timeout' },
      `not done after ${ms} ms; connection closed${left}`, { cause });
  // Whatever the transfer is waiting for, the deadline settles it: a promise nobody settles would let
  // the process run out of work with guests unaccounted for.
  const wound = new Promise<never>((_, reject) => {
    const timer = setTimeout(() => {
      late = true;
      conn.destroy();
      abandon = setTimeout(() => reject(timedOut(undefined, '; its temporary file may remain')), WIND_UP_MS);
    }, ms);
    abandon = timer;
  });
  try {
    return await Promise.race([work(), wound]);
  } catch (err) {
    if (!late) throw err;
    if (err instanceof StepError && err.status === 'timeout' && err.step === 'push') throw err;
    throw timedOut(err, (err instanceof StepError && /; temporary file .* may remain$/.exec(err.reason)?.[0]) || '');
  } finally {
    clearTimeout(abandon);
  }
}
