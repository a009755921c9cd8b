// Which key exchange methods an SSH server offers: its KEXINIT, read over one TCP connection right
// after the version exchange (sent in the clear, before anything is negotiated), then dropped.
// Cheaper than a handshake and independent of what our own client could negotiate.
import net from 'node:net';

const SSH_MSG_KEXINIT = 20;

/** The kex name-list of a server's first binary packet, or undefined while more bytes are needed. */
export function parseKexInit(data: Buffer): { kex: string[] } | { error: string } | undefined {
  let at = 0;
  // Servers may send text lines before their version line (RFC 4253 4.2).
  for (;;) {
    const nl = data.indexOf(0x0a, at);
    if (nl < 0) return data.length - at > 8192 ? { error: 'no SSH version line' } : undefined;
    const line = data.subarray(at, nl).toString('latin1');
    at = nl + 1;
    if (line.startsWith('SSH-')) {
      if (!/^SSH-(2\.0|1\.99)-/.test(line)) return { error: `not SSH 2: ${line.trim()}` };
      break;
    }
  }
  if (data.length < at + 6) return undefined;
  const packetLength = data.readUInt32BE(at);
  if (packetLength > 35000) return { error: 'first packet too large' };
  if (data.length < at + 4 + packetLength) return undefined;
  const payload = at + 5;
  if (data[payload] !== SSH_MSG_KEXINIT) return { error: `first packet is message ${data[payload]}, not KEXINIT` };
  const listAt = payload + 1 + 16;
  const len = data.readUInt32BE(listAt);
  if (listAt + 4 + len > at + 4 + packetLength) return { error: 'malformed KEXINIT' };
  return { kex: data.subarray(listAt + 4, listAt + 4 + len).toString('latin1').split(',').filter(Boolean) };
}

/** The key exchange methods the server at address:port offers; rejects naming what went wrong. */
export function readKexOffer(address: string, port: number, timeoutMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: address, port, noDelay: true });
    let data = Buffer.alloc(0);
    const done = (err: Error | null, kex?: string[]) => {
      clearTimeout(timer);
      sock.removeAllListeners();
      sock.on('error', () => {});
      sock.destroy();
      if (err) reject(err);
      else resolve(kex!);
    };
    const timer = setTimeout(() => done(new Error(`${address}:${port}: no key exchange offer within ${timeoutMs} ms`)), timeoutMs);
    sock.on('connect', () => sock.write('SSH-2.0-fleet_audit\r\n'));
    sock.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const r = parseKexInit(data);
      if (!r) return;
      if ('error' in r) done(new Error(`${address}:${port}: ${r.error}`));
      else done(null, r.kex);
    });
    sock.on('error', (err: NodeJS.ErrnoException) => done(new Error(`${address}:${port}: ${`${err.code ?? ''} ${err.message}`.trim()}`)));
    sock.on('close', () => done(new Error(`${address}:${port}: closed before its key exchange offer`)));
  });
}
