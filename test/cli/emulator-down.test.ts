// `fleet emulator down` returns once the emulator process is gone, not when its pid file is: until
// then it may still hold the guests' addresses, and the `up` a script runs next would find them in use.
// The state is on disk, where unmounting the guests' overlays takes the longest.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/fleet', import.meta.url));
const DISK = process.env.FLEET_TEST_DISK_DIR ?? '/var/tmp';
const dir = mkdtempSync(join(DISK, 'clonefleet-down-test-'));
const state = join(dir, 'state');
const subnet = '127.123.0.0/16';
const fleet = (...args: string[]) => execa(process.execPath, [BIN, ...args], { reject: false, stdin: 'ignore' });

afterAll(async () => {
  await fleet('emulator', 'down', '--state', state); // also after a failure: nothing left running
  rmSync(dir, { recursive: true, force: true });
});

const refused = (host: string) => new Promise<boolean>((resolve) => {
  const s = net.connect({ host, port: 2222 }, () => { s.destroy(); resolve(false); });
  s.on('error', () => resolve(true));
});

describe('fleet emulator down', () => {
  it('returns once nothing listens any more, so an up right after gets the same addresses', async () => {
    for (let round = 1; round <= 2; round++) {
      const up = await fleet('emulator', 'up', '--guests', '60', '--state', state, '--subnet', subnet, '--detach');
      expect(up.exitCode, `round ${round}: ${up.stderr}`).toBe(0);
      const down = await fleet('emulator', 'down', '--state', state);
      expect(down.stdout, down.stderr).toMatch(/^emulator stopped \(pid \d+\)$/m);
      const pid = Number(/pid (\d+)/.exec(down.stdout)![1]);
      expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
      expect(await refused('127.123.0.1')).toBe(true);
      expect(await refused('127.123.0.60')).toBe(true);
    }
  }, 180_000);
});
