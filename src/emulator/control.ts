// The running emulator's control socket (STATE/emulator.sock): one JSON request per connection,
// one JSON reply. `fleet emulator status|fault|console|down` talk to it.
import net from 'node:net';
import type { FaultKind } from './faults.js';
import type { Guest } from './guest.js';
import { FleetError } from '../core/index.js';

export type ControlRequest =
  | { op: 'status' }
  | { op: 'fault-set'; spec: string }
  | { op: 'fault-clear'; kind?: FaultKind; who?: string }
  | { op: 'sshd'; guest: string; action: 'start' | 'stop' }
  | { op: 'console'; guest: string; command: string; stdin?: string /* base64 */ }
  | { op: 'shutdown' };

/**
 * What the socket serves of a running fleet: the Emulator is one. Declared here rather than imported
 * so that the fleet, which starts the socket, stays the only one of the two that knows the other.
 */
export interface ControlledFleet {
  status(): unknown;
  setFault(spec: string): Promise<string[]>;
  clearFaults(kind?: FaultKind, who?: string): Promise<void>;
  guest(nameOrAddress: string): Pick<Guest, 'startSshd' | 'stopSshd' | 'consoleExec'>;
}

export async function serveControl(emu: ControlledFleet, path: string): Promise<net.Server> {
  const srv = net.createServer({ allowHalfOpen: true }, (sock) => {
    let body = '';
    sock.on('error', () => {});
    sock.on('data', (d) => (body += d.toString()));
    sock.on('end', () => {
      void handle(emu, body).then(
        (reply) => sock.end(JSON.stringify({ ok: true, ...reply })),
        // A refusal the caller caused (an unknown guest, a bad spec) keeps its exit status across the socket.
        (err: Error) => sock.end(JSON.stringify({ ok: false, error: err.message, exitCode: err instanceof FleetError ? err.exitCode : undefined })),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(path, () => resolve());
  });
  return srv;
}

async function handle(emu: ControlledFleet, body: string): Promise<Record<string, unknown>> {
  const req = JSON.parse(body) as ControlRequest;
  switch (req.op) {
    case 'status':
      return { status: emu.status() };
    case 'fault-set':
      return { guests: await emu.setFault(req.spec) };
    case 'fault-clear':
      await emu.clearFaults(req.kind, req.who);
      return {};
    case 'sshd': {
      const g = emu.guest(req.guest);
      if (req.action === 'stop') {
        await g.stopSshd();
        return {};
      }
      return { sshd: await g.startSshd() };
    }
    case 'console': {
      const r = await emu.guest(req.guest).consoleExec(req.command, req.stdin ? Buffer.from(req.stdin, 'base64') : undefined);
      return { console: { exitCode: r.exitCode, signal: r.signal, stdout: r.stdout.toString('base64'), stderr: r.stderr.toString('base64') } };
    }
    case 'shutdown':
      // Reply first; the process owner stops the fleet and exits.
      setImmediate(() => process.emit('SIGTERM'));
      return {};
    default:
      throw new Error(`unknown control request ${JSON.stringify(req)}`);
  }
}

/** Client side: sends one request to a running emulator. */
export function controlRequest(path: string, req: ControlRequest, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    let reply = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer from the emulator at ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('connect', () => sock.end(JSON.stringify(req)));
    sock.on('data', (d) => (reply += d.toString()));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        const parsed = JSON.parse(reply) as { ok: boolean; error?: string; exitCode?: number };
        if (!parsed.ok) reject(parsed.exitCode !== undefined ? new FleetError(parsed.error ?? 'refused', parsed.exitCode) : new Error(parsed.error));
        else resolve(parsed);
      } catch {
        reject(new Error(`garbled answer from the emulator at ${path}`));
      }
    });
  });
}
