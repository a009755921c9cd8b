// SFTP plumbing for connection.ts: promise-returning calls and pipelined writes that always settle.
// Internal.
import type { SFTPWrapper } from 'ssh2';

type SftpState = SFTPWrapper & { incoming?: { state?: string }; outgoing?: { state?: string } };

/**
 * Whether a request on this session can still be answered. ssh2 answers the requests it has sent
 * with an error when the session ends, but a request made after that (the guest closed the channel,
 * or the connection dropped) is queued and never answered: its promise would never settle.
 */
export function sftpUsable(sftp: SFTPWrapper): boolean {
  const s = sftp as SftpState;
  // ssh2 1.x keeps the channel's states there; without them, assume open (and rely on 'end'/'close').
  return (s.incoming?.state ?? 'open') === 'open' && (s.outgoing?.state ?? 'open') === 'open';
}

export class SftpClosedError extends Error {
  constructor() {
    super('SFTP session closed (connection lost)');
    this.name = 'SftpClosedError';
  }
}

/** Calls `onEnd` once if the session ends (EOF, close, connection lost); returns the unsubscribe. */
function whenEnded(sftp: SFTPWrapper, onEnd: () => void): () => void {
  const ended = () => onEnd();
  sftp.once('end', ended);
  sftp.once('close', ended);
  return () => {
    sftp.off('end', ended);
    sftp.off('close', ended);
  };
}

export function sftpCall<T = void>(sftp: SFTPWrapper, op: (cb: (err: Error | undefined | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    if (!sftpUsable(sftp)) return reject(new SftpClosedError());
    let done = false;
    const finish = (err: unknown, value?: T) => {
      if (done) return;
      done = true;
      stop();
      if (err) reject(err);
      else resolve(value as T);
    };
    const stop = whenEnded(sftp, () => finish(new SftpClosedError()));
    try {
      op((err, value) => finish(err, value));
    } catch (err) {
      finish(err); // ssh2 throws synchronously for an unsupported extension or a closed channel
    }
  });
}

const WRITE_CHUNK = 32 << 10;
/** An SFTP WRITE request around its data: length, type, id, handle's length, offset, data's length. */
const WRITE_HEAD = 4 + 1 + 4 + 4 + 8 + 4;

type SftpChannel = SFTPWrapper & { _maxWriteLen?: number; outgoing?: { packetSize?: number } };

/**
 * Bytes of data per WRITE request: at most 32 KiB, and few enough that the request fits one SSH
 * channel packet of the peer's maximum size (OpenSSH's sshd: 32 KiB). 32 KiB of data plus the
 * request's 29 bytes went out as two packets, the second one nearly empty: twice the packets to
 * encrypt, write and decrypt for the same bytes.
 */
export function writeChunk(sftp: SFTPWrapper, handle: Buffer): number {
  const s = sftp as SftpChannel;
  const packet = (s.outgoing?.packetSize ?? WRITE_CHUNK + WRITE_HEAD + handle.length) - WRITE_HEAD - handle.length;
  return Math.max(1024, Math.min(WRITE_CHUNK, s._maxWriteLen ?? WRITE_CHUNK, packet));
}

/**
 * Writes a buffer with up to `inFlight` WRITE requests outstanding. ssh2's own write() splits a large
 * buffer into packets sent one after the other, and fastPut's default of 64 in flight is slow against
 * OpenSSH's sftp-server (measured). Requests of about 32 KiB, not the 255 KiB OpenSSH allows: with 255 KiB
 * the guests' sshd and sftp-server spent ~13% more CPU on a 1 MiB push (500 real sshd, paired runs).
 */
export function writePipelined(sftp: SFTPWrapper, handle: Buffer, data: Buffer, inFlight: number): Promise<void> {
  const chunk = writeChunk(sftp, handle);
  return new Promise((resolve, reject) => {
    let next = 0;
    let running = 0;
    let settled = false;
    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      stop();
      if (err) reject(err);
      else resolve();
    };
    const stop = whenEnded(sftp, () => finish(new SftpClosedError()));
    const pump = () => {
      if (settled) return;
      if (next >= data.length && running === 0) return finish();
      if (!sftpUsable(sftp)) return finish(new SftpClosedError());
      while (running < inFlight && next < data.length) {
        const off = next;
        const len = Math.min(chunk, data.length - off);
        next += len;
        running++;
        try {
          sftp.write(handle, data, off, len, off, (err) => {
            running--;
            if (err) return finish(err);
            pump();
          });
        } catch (err) {
          return finish(err);
        }
      }
    };
    pump();
  });
}
