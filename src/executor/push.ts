// `push` on one guest: connect pinned, make the guest's file hold the local bytes (atomic, mode and
// owner, skipped when the SHA-256 already matches), within a deadline; classify the outcome.
import type { SshConnection } from '../ssh/index.js';
import { withConnection, type GuestTarget, type SessionOptions } from './command.js';
import { StepError } from './errors.js';
import { writeRemoteFile, type WriteRemoteOptions } from './remote-file.js';
import type { HostResult } from './result.js';

export type PushOptions = SessionOptions & Omit<WriteRemoteOptions, 'timeoutMs'>;

/**
 * `data` is the local file, read once by the caller and shared by every guest. `timeoutMs` bounds the
 * whole transfer on this guest (not the connect): when it passes, the connection is torn down and the
 * guest is reported as timed out; its file is then either the old one or the new one, never a mix.
 */
export function pushFileOn(t: GuestTarget, data: Buffer, remotePath: string, o: PushOptions): Promise<HostResult> {
  return withConnection(t, o, async (conn, started) => {
    const outcome = await underDeadline(conn, remotePath, o.timeoutMs, () =>
      writeRemoteFile(conn, remotePath, data, {
        sudo: o.sudo, mode: o.mode, owner: o.owner, backup: o.backup, backupSuffix: o.backupSuffix, timeoutMs: o.timeoutMs, transfer: o.transfer,
      }),
    );
    return {
      host: t.name, address: t.address, status: 'ok', exitCode: 0, stdout: '', stderr: '',
      changed: outcome.changed, ...(outcome.backup ? { backup: outcome.backup } : {}), durationMs: Date.now() - started,
    };
  });
}

async function underDeadline<T>(conn: SshConnection, path: string, ms: number | undefined, work: () => Promise<T>): Promise<T> {
  if (!ms) return work();
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    conn.destroy();
  }, ms);
  try {
    return await work();
  } catch (err) {
    if (!late) throw err;
    const step = err instanceof StepError ? err.step : 'push';
    throw new StepError({ host: conn.options.name, step, path, status: 'timeout' }, `not done after ${ms} ms; connection closed`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
