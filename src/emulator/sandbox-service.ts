// The long-lived fleet-sandbox processes the emulator keeps beside it (`--spawner`, `--overlays`):
// how one starts, how its one-line messages are read, how it ends. Protocols: sandbox/spawner.c and
// sandbox/overlays.c.
import { constants as osc } from 'node:os';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';

// Both src/emulator/*.ts (tests) and dist/emulator/*.js sit two levels under the package root.
export const SANDBOX_BIN = fileURLToPath(new URL('../../dist/emulator/fleet-sandbox', import.meta.url));

export type ServiceProcess = ResultPromise<{ stdin: 'pipe'; stdout: 'pipe'; stderr: 'inherit'; buffer: false; reject: false }>;

/** Starts `fleet-sandbox ROLE`; each line it writes goes to onLine, in order. Its stderr is the emulator's. */
export function startService(role: '--spawner' | '--overlays', onLine: (line: string) => void): ServiceProcess {
  const proc: ServiceProcess = execa(SANDBOX_BIN, [role], { stdin: 'pipe', stdout: 'pipe', stderr: 'inherit', buffer: false, reject: false });
  // A write to a process that has ended fails here; its end is reported where the process is awaited.
  proc.stdin.on('error', () => {});
  let buffered = '';
  proc.stdout.setEncoding('latin1');
  proc.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      onLine(line);
    }
  });
  return proc;
}

/** Ends a service by closing its stdin (what it takes for the emulator leaving) and waits for it. */
export async function stopService(proc: ServiceProcess | undefined): Promise<void> {
  if (!proc) return;
  proc.stdin.end();
  await proc;
}

/** An errno number as its name (`ENOENT`), as the services report failures by number. */
export function errnoName(n: number): string {
  return Object.entries(osc.errno).find(([, v]) => v === n)?.[0] ?? `errno ${n}`;
}
