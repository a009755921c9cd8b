// Starts an emulated fleet for one test file (its own subnet, a fresh state directory under the OS
// temp dir) and owns both: stop() closes every guest and removes the directory.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { Emulator, type EmulatorOptions } from '../../src/emulator/index.js';
import { connect, type ConnectOptions, type SshSession } from './ssh-client.js';

/** What a client needs to reach a fleet's guests: the emulator and its client private key. */
export interface FleetAccess {
  emu: Emulator;
  clientKey: Buffer;
}

export function accessTo(emu: Emulator): FleetAccess {
  return { emu, clientKey: readFileSync(emu.clientKeyPath) };
}

export interface TestFleet extends FleetAccess {
  state: string;
  /** Stops the emulator and removes its state directory; safe to call twice. */
  stop(): Promise<void>;
}

/** `parent`: where the state directory goes (default: the OS temp dir, tmpfs under the test config). */
export async function startFleet(opts: Omit<EmulatorOptions, 'state'>, parent = tmpdir()): Promise<TestFleet> {
  const state = mkdtempSync(join(parent, 'clonefleet-emu-test-'));
  let emu: Emulator;
  try {
    emu = await Emulator.start({ ...opts, state });
  } catch (err) {
    rmSync(state, { recursive: true, force: true });
    throw err;
  }
  let stopped = false;
  return {
    emu,
    state,
    clientKey: readFileSync(join(state, 'id_ed25519')),
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await emu.stop();
      } finally {
        rmSync(state, { recursive: true, force: true });
      }
    },
  };
}

/**
 * One emulated fleet for a whole test file: started before its tests, stopped (state removed) after
 * them, also when they fail. Returns the getter the tests use; hooks registered after this call run
 * after the start and, being after-hooks, before the stop.
 */
export function useFleet(opts: Omit<EmulatorOptions, 'state'>, parent?: string): () => TestFleet {
  let fleet: TestFleet | undefined;
  beforeAll(async () => {
    fleet = await startFleet(opts, parent);
  });
  afterAll(async () => {
    await fleet?.stop();
  });
  return () => {
    if (!fleet) throw new Error('the test fleet is not running (used outside the file\'s tests?)');
    return fleet;
  };
}

/** Base64 key blobs that a known_hosts file pins for one host pattern (`[addr]:port` or `addr`). */
export function pinsFromKnownHosts(knownHostsPath: string, pattern: string): string[] {
  const pins: string[] = [];
  for (const line of readFileSync(knownHostsPath, 'utf8').split('\n')) {
    const [hosts, , blob] = line.trim().split(/\s+/);
    if (!hosts || hosts.startsWith('#') || !blob) continue;
    if (hosts.split(',').includes(pattern)) pins.push(blob);
  }
  return pins;
}

/** Known_hosts lines (pattern, type, blob) of one guest. */
export function knownHostsLines(fleet: FleetAccess, index: number): string[] {
  const pattern = fleet.emu.hostPattern(fleet.emu.guests[index - 1]!);
  return readFileSync(fleet.emu.knownHostsPath, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith(`${pattern} `));
}

/** Pinned connection to guest number `index` (1-based) as fleetadm with the client key, by default. */
export function connectGuest(fleet: FleetAccess, index: number, overrides: Partial<ConnectOptions> = {}): Promise<SshSession> {
  const guest = fleet.emu.guests[index - 1]!;
  return connect({
    host: guest.cfg.address,
    port: fleet.emu.port,
    username: fleet.emu.user,
    privateKey: fleet.clientKey,
    pins: pinsFromKnownHosts(fleet.emu.knownHostsPath, fleet.emu.hostPattern(guest)),
    readyTimeout: 10_000,
    ...overrides,
  });
}

/** Connects, runs one command, closes. */
export async function runOn(fleet: FleetAccess, index: number, command: string, opts: { stdin?: string; username?: string } = {}) {
  const session = await connectGuest(fleet, index, opts.username ? { username: opts.username } : {});
  try {
    return await session.exec(command, { stdin: opts.stdin });
  } finally {
    session.close();
  }
}
