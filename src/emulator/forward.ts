// Port forwarding on an emulated guest: direct-tcpip channels (what `ssh -W` and ProxyJump ask for),
// so a guest can be a rehearsal's jump host. The emulator is a security boundary, so a forward reaches
// only the SSH port of another guest of the same fleet, handed to that guest's SSH server in-process as
// if it came over the fleet's LAN: no forward ever opens a socket on the machine the emulator runs on.
// Anything else is refused as OpenSSH's sshd refuses a forward its PermitOpen does not allow.
import type { Duplex } from 'node:stream';
import type { AcceptConnection, Connection, RejectConnection, ServerChannel, TcpipRequestInfo } from 'ssh2';

/** SSH_MSG_CHANNEL_OPEN_FAILURE reason codes (RFC 4254 5.1). */
const OPEN_ADMINISTRATIVELY_PROHIBITED = 1;
const OPEN_CONNECT_FAILED = 2;

/** Where a forward may go: another guest's SSH server, taking a stream as its TCP listener takes a
 * connection. `connect` returns false (nothing opened) when a TCP connection to it would be refused. */
export interface ForwardTarget {
  connect(open: () => Duplex): boolean;
}

/** Whether an sshd_config lets clients open direct-tcpip channels: `AllowTcpForwarding` (yes, all,
 * local allow; no, remote refuse) and `DisableForwarding yes`, the first value of each before any
 * `Match` block counting, as sshd reads them. OpenSSH's default is to allow. */
export function localForwardingAllowed(config: string): boolean {
  let allow: string | undefined;
  let disable: string | undefined;
  for (const raw of config.split('\n')) {
    const m = /^\s*([A-Za-z]+)(?:\s*=\s*|\s+)(\S+)/.exec(raw);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const value = m[2]!.toLowerCase();
    if (key === 'match') break;
    if (key === 'allowtcpforwarding') allow ??= value;
    else if (key === 'disableforwarding') disable ??= value;
  }
  if (disable === 'yes') return false;
  return allow !== 'no' && allow !== 'remote';
}

/** ssh2's server rejects a channel it emitted with "connect failed" and no words; sshd says why.
 * Its reject() sends the failure at once, so the reason is swapped in for that one call. */
function rejectWith(client: Connection, reject: RejectConnection, reason: number, description: string): void {
  const proto = (client as unknown as { _protocol: { channelOpenFail(remote: number, reason: number, desc: string): void } })._protocol;
  const send = proto.channelOpenFail;
  const own = Object.hasOwn(proto, 'channelOpenFail');
  proto.channelOpenFail = (remote) => send.call(proto, remote, reason, description);
  try {
    reject();
  } finally {
    if (own) proto.channelOpenFail = send;
    else delete (proto as { channelOpenFail?: unknown }).channelOpenFail;
  }
}

/**
 * Answers one direct-tcpip request on a guest's SSH connection. `allowed`: the guest's sshd permits
 * forwarding; `find`: the other guest of the fleet at exactly that address and SSH port, if any.
 * Refused ("administratively prohibited: open failed", as sshd words it) unless both hold; a guest
 * whose sshd is not listening gives "Connection refused", as a TCP connect to it would.
 */
export function forwardChannel(
  client: Connection,
  accept: AcceptConnection<ServerChannel>,
  reject: RejectConnection,
  info: TcpipRequestInfo,
  { allowed, find }: { allowed: () => boolean; find: (address: string, port: number) => ForwardTarget | undefined },
): void {
  const target = allowed() ? find(info.destIP, info.destPort) : undefined;
  if (!target) return rejectWith(client, reject, OPEN_ADMINISTRATIVELY_PROHIBITED, 'open failed');
  const opened = target.connect(() => {
    const channel = accept();
    channel.on('error', () => {});
    return channel;
  });
  if (!opened) rejectWith(client, reject, OPEN_CONNECT_FAILED, 'Connection refused');
}
