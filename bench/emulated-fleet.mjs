// The emulated fleet a benchmark runs against: `fleet emulator up --detach` in a fresh state
// directory (on /dev/shm where there is one), stopped and removed by stop(), on failure to start and
// on Ctrl-C too.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const fleetBin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin/fleet');
export const STATE_BASE = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

/** `prefix`: the state directory's name start; `onStop`: what to stop first (a jump host, ...). */
export function startEmulatedFleet({ prefix, guests, subnet, onStop }) {
  const state = mkdtempSync(join(STATE_BASE, prefix));
  const stop = () => {
    onStop?.();
    spawnSync(process.execPath, [fleetBin, 'emulator', 'down', '--state', state, '--remove'], { stdio: 'ignore' });
    rmSync(state, { recursive: true, force: true });
  };
  process.on('SIGINT', () => {
    stop();
    process.exit(130);
  });
  const up = spawnSync(process.execPath, [fleetBin, 'emulator', 'up', '--guests', String(guests), '--state', state, '--subnet', subnet, '--detach', '--json'], { encoding: 'utf8' });
  if (up.status !== 0) {
    stop();
    throw new Error(`emulator up failed: ${up.stderr}`);
  }
  return { state, port: JSON.parse(up.stdout).port, stop };
}
