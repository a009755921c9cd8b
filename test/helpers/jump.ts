// What the jump host tests share: the SshError a connection fails with, waiting for the jump pool to
// close every hop, and reading a real sshd's log (logins, the direct-tcpip channels it opened).
import { setTimeout as delay } from 'node:timers/promises';
import { expect } from 'vitest';
import { openJumpCount, SshConnection, SshError, type ConnectOptions } from '../../src/ssh/index.js';
import type { RealSshd } from './real-sshd.js';

/** The SshError connecting with `o` fails with (a connection that succeeds is a test failure). */
export async function failure(o: ConnectOptions): Promise<SshError> {
  const err = await SshConnection.connect(o).then((c) => (c.close(), undefined), (e: unknown) => e);
  if (!(err instanceof SshError)) throw new Error(`expected an SshError, got ${String(err)}`);
  return err;
}

/** Waits (up to 5 s) until no jump host connection is open. */
export async function jumpsClosed(): Promise<void> {
  for (let i = 0; i < 200 && openJumpCount() > 0; i++) await delay(25);
  expect(openJumpCount()).toBe(0);
}

/** Public-key logins of root in an sshd log. */
export const logins = (log: string) => log.match(/Accepted publickey for root/g)?.length ?? 0;
/** Targets of the direct-tcpip channels sshd opened, as `addr:port`. */
export const channels = (log: string) =>
  [...log.matchAll(/server_request_direct_tcpip: originator \S+ port \d+, target (\S+) port (\d+)/g)].map((m) => `${m[1]}:${m[2]}`);

/** The part of `sshd`'s log written from now on. */
export function sinceMark(sshd: RealSshd): () => string {
  const from = sshd.log().length;
  return () => sshd.log().slice(from);
}
