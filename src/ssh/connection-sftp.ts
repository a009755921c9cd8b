// SFTP plumbing for connection.ts: promise-returning calls and pipelined writes. Internal.
import type { SFTPWrapper } from 'ssh2';

export function sftpCall<T = void>(op: (cb: (err: Error | undefined | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    try {
      op((err, value) => (err ? reject(err) : resolve(value as T)));
    } catch (err) {
      reject(err); // ssh2 throws synchronously for an unsupported extension or a closed channel
    }
  });
}

/**
 * Writes a buffer with up to `inFlight` WRITE requests outstanding. ssh2's own write() splits a large
 * buffer into packets sent one after the other, and fastPut's default of 64 in flight is slow against
 * OpenSSH's sftp-server (measured): a few large requests in flight keep the channel full.
 */
export function writePipelined(sftp: SFTPWrapper, handle: Buffer, data: Buffer, inFlight: number): Promise<void> {
  const chunk = Math.max(1024, (sftp as SFTPWrapper & { _maxWriteLen?: number })._maxWriteLen ?? 32_768);
  return new Promise((resolve, reject) => {
    let next = 0;
    let running = 0;
    let failed = false;
    const pump = () => {
      if (failed) return;
      if (next >= data.length && running === 0) return resolve();
      while (running < inFlight && next < data.length) {
        const off = next;
        const len = Math.min(chunk, data.length - off);
        next += len;
        running++;
        sftp.write(handle, data, off, len, off, (err) => {
          running--;
          if (err) {
            failed = true;
            return reject(err);
          }
          pump();
        });
      }
    };
    if (data.length === 0) return resolve();
    pump();
  });
}
