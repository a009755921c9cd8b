// The sandbox spawner: one helper process forks every guest command. Its death must not leave guest
// commands running or the emulator stuck, and the emulator's death must take the spawner and every
// guest command with it (nothing outlives an emulator killed with SIGKILL).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { connectGuest, startFleet, useFleet } from '../helpers/emulator.js';

const BIN = fileURLToPath(new URL('../../bin/fleet', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const F = useFleet({ guests: 2, subnet: '127.95.0.0/16' });

/** PIDs of processes whose command line contains `marker`. */
function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').includes(marker)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The parent's PID; undefined for a process gone meanwhile (other test files run emulators too). */
function parentOf(pid: number): number | undefined {
  try {
    return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Running, not a zombie; a process reaped meanwhile is not alive either. */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Polls `check` every 50 ms, at most `ms`; returns its last answer. */
async function within(ms: number, check: () => boolean): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await delay(50)) if (check()) return true;
  return check();
}

describe('sandbox spawner', () => {
  it('reports commands killed when the spawner dies, and the next command starts a new spawner', async () => {
    const first = F().emu.spawnerPid!;
    expect(alive(first)).toBe(true);
    const marker = `${40 + (process.pid % 50)}.${Date.now() % 1000}17`;
    const session = await connectGuest(F(), 1);
    try {
      const running = session.exec(`sleep ${marker}`, { timeoutMs: 15_000 });
      expect(await within(5_000, () => processesWith(`sleep ${marker}`).length > 0)).toBe(true);
      process.kill(first, 'SIGKILL'); // the emulator (this test process) started it
      await expect(running).resolves.toMatchObject({ code: null, signal: 'SIGKILL' });
      expect(await within(5_000, () => processesWith(`sleep ${marker}`).length === 0)).toBe(true);
      expect(await session.exec('echo again; hostname')).toMatchObject({ code: 0, stdout: 'again\nguest001\n' });
      expect(F().emu.spawnerPid).not.toBe(first);
    } finally {
      session.close();
    }
  });

  it('frees the slot and the process of a command whose client vanished with its output unread', async () => {
    const small = await startFleet({ guests: 1, subnet: '127.95.2.0/24', hostCapacity: 1 });
    try {
      const gone = await connectGuest(small, 1);
      await gone.start('yes'); // floods stdout; nobody reads it
      expect(await within(5_000, () => small.emu.status().hostModel.running === 1)).toBe(true);
      gone.client.destroy();
      const next = await connectGuest(small, 1);
      try {
        // With a capacity of 1, this waits for the abandoned command's slot.
        expect(await next.exec('echo next', { timeoutMs: 10_000 })).toMatchObject({ code: 0, stdout: 'next\n' });
      } finally {
        next.close();
      }
    } finally {
      await small.stop();
    }
  });

  it('dies with an emulator killed by SIGKILL, and so does every guest command', async () => {
    expect(existsSync(BUILT), 'run `npm run build` first: this test runs bin/fleet').toBe(true);
    const state = mkdtempSync(join(tmpdir(), 'clonefleet-spawner-test-'));
    const emulator = execa(process.execPath, [BIN, 'emulator', 'up', '--guests', '1', '--state', state, '--subnet', '127.95.1.0/24', '--port', '2222'], {
      reject: false, stdin: 'ignore', all: true, timeout: 60_000,
    });
    const marker = `${40 + (process.pid % 50)}.${Date.now() % 1000}23`;
    try {
      let log = '';
      emulator.all!.on('data', (d: Buffer) => (log += d.toString()));
      expect(await within(20_000, () => log.includes('Running in the foreground')), log).toBe(true);
      const ssh = execa('ssh', [
        '-i', join(state, 'id_ed25519'), '-p', '2222', '-o', `UserKnownHostsFile=${join(state, 'known_hosts')}`,
        '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', 'fleetadm@127.95.1.1', `sleep ${marker}`,
      ], { reject: false, stdin: 'ignore', timeout: 30_000 });
      try {
        expect(await within(10_000, () => processesWith(`sleep ${marker}`).length > 0)).toBe(true);
        const spawner = processesWith('fleet-sandbox --spawner').filter((pid) => parentOf(pid) === emulator.pid);
        expect(spawner).toHaveLength(1);
        emulator.kill('SIGKILL');
        await emulator;
        expect(await within(5_000, () => !alive(spawner[0]!)), 'spawner outlived the emulator').toBe(true);
        expect(await within(5_000, () => processesWith(`sleep ${marker}`).length === 0), 'a guest command outlived the emulator').toBe(true);
      } finally {
        ssh.kill('SIGKILL');
        await ssh;
      }
    } finally {
      emulator.kill('SIGKILL');
      await emulator;
      for (const pid of processesWith(`sleep ${marker}`)) process.kill(pid, 'SIGKILL'); // ours, if the test failed
      rmSync(state, { recursive: true, force: true });
    }
  });
});
