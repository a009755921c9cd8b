// The emulated fleet: N guests cloned from one golden image, each an sshd on its own loopback
// address, in one Node process. Library API for tests and the CLI's `fleet emulator`.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { FleetError, UsageError } from '../core/index.js';
import { acquireLock, useKeyObjects, type FileLock } from '../ssh/index.js';
import { parseFault, type FaultKind, type GuestRef } from './faults.js';
import { ADMIN_USER, createGoldenImage, makeUnique } from './golden.js';
import { Guest, type GuestStatus } from './guest.js';
import { HostModel, type HostModelStatus } from './host-model.js';
import { generateHostKey } from './keys.js';
import { checkOpenFiles } from './limits.js';
import { OverlayHolder, spreadSubdirectories } from './overlays.js';
import { checkSandboxBuilt, SandboxSpawner, sftpServerPath } from './sandbox.js';

export interface EmulatorOptions {
  guests: number;
  /** State directory (golden image, guest roots, client key, inventory, known_hosts). */
  state: string;
  subnet?: string;
  port?: number;
  uniqueKeys?: boolean;
  /** At most this many guest commands at once across the host; null: unlimited. */
  hostCapacity?: number | null;
  /** Fault specs (`KIND[:MS]@WHO`), applied at start. */
  faults?: string[];
  seed?: string;
  /** Guests' commands use the host's network instead of one namespace per guest (loopback only):
   * a guest's user can then listen on any loopback address, a stopped guest's included. */
  hostNetwork?: boolean;
}

export interface EmulatorStatus {
  pid: number;
  state: string;
  subnet: string;
  port: number;
  guests: number;
  sshdRunning: number;
  connections: number;
  commands: number;
  faults: { guest: string; kind: FaultKind; ms: number }[];
  hostModel: HostModelStatus;
  hostTools: { sudo: boolean; sftpServer: boolean };
  startedAt: string;
  startupMs: number;
}

export const DEFAULT_SUBNET = '127.77.0.0/16';
export const DEFAULT_PORT = 2222;

/** Guest addresses: the subnet's addresses in order, skipping its network and broadcast address. */
export function guestAddresses(subnet: string, count: number): string[] {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(subnet);
  const octets = m?.slice(1, 5).map(Number);
  const bits = Number(m?.[5]);
  if (!m || octets!.some((o) => o > 255) || bits < 8 || bits > 30) throw new UsageError(`bad subnet '${subnet}': expected like 127.77.0.0/16`);
  if (octets![0] !== 127) throw new UsageError(`subnet '${subnet}' is not loopback: the emulator only binds 127.0.0.0/8 addresses`);
  const base = ((octets![0]! << 24) | (octets![1]! << 16) | (octets![2]! << 8) | octets![3]!) >>> 0;
  const mask = bits === 32 ? 0xffffffff : (~((1 << (32 - bits)) - 1)) >>> 0;
  const network = (base & mask) >>> 0;
  const size = 2 ** (32 - bits);
  if (count > size - 2) throw new UsageError(`subnet ${subnet} holds at most ${size - 2} guests, asked for ${count}`);
  const out: string[] = [];
  for (let i = 1; i <= count; i++) {
    const a = network + i;
    out.push([a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.'));
  }
  return out;
}

function guestName(i: number, count: number): string {
  return `guest${String(i).padStart(Math.max(3, String(count).length), '0')}`;
}

function hasSudo(): boolean {
  return ['/usr/bin/sudo', '/bin/sudo'].some((p) => existsSync(p));
}

export class Emulator {
  readonly guests: Guest[] = [];
  readonly hostModel: HostModel;
  private readonly startedAt = new Date();
  private startupMs = 0;
  private control?: net.Server;
  private readonly spawner = new SandboxSpawner();
  /** Holds every guest's root overlay (the guests' files live through it). */
  private readonly overlays = new OverlayHolder();
  /** Held while this emulator runs: one emulator per state directory. */
  private lock?: FileLock;
  /** Guests by address, made at the first forward (the fleet is complete by then). */
  private byAddress?: Map<string, Guest>;

  private constructor(
    readonly state: string,
    readonly subnet: string,
    readonly port: number,
    hostCapacity: number | null,
    private readonly seed: string,
  ) {
    this.hostModel = new HostModel(hostCapacity);
  }

  get inventoryPath(): string {
    return join(this.state, 'inventory');
  }
  get knownHostsPath(): string {
    return join(this.state, 'known_hosts');
  }
  get clientKeyPath(): string {
    return join(this.state, 'id_ed25519');
  }
  get user(): string {
    return ADMIN_USER;
  }
  /** PID of the process that forks the guests' sandboxed commands, while it runs. */
  get spawnerPid(): number | undefined {
    return this.spawner.pid;
  }

  /** Creates (or reuses) the state directory and starts every guest. */
  static async start(opts: EmulatorOptions): Promise<Emulator> {
    const t0 = performance.now();
    checkSandboxBuilt();
    useKeyObjects(); // host key signatures and login verifications: one key parse each, not one per connection
    if (!Number.isInteger(opts.guests) || opts.guests < 1) throw new UsageError(`--guests must be a positive integer, got ${opts.guests}`);
    const state = resolve(opts.state);
    const subnet = opts.subnet ?? DEFAULT_SUBNET;
    const port = opts.port ?? DEFAULT_PORT;
    const addresses = guestAddresses(subnet, opts.guests);
    checkOpenFiles(opts.guests);
    const emu = new Emulator(state, subnet, port, opts.hostCapacity ?? null, opts.seed ?? 'clonefleet');
    mkdirSync(join(state, 'guests'), { recursive: true });
    try {
      emu.lock = await acquireLock(join(state, 'emulator'), { timeoutMs: 0 });
    } catch (err) {
      throw new FleetError(`another emulator already uses the state directory ${state} (${(err as Error).message})`);
    }
    mkdirSync(join(state, '.newroot'), { recursive: true });
    mkdirSync(join(state, 'work'), { recursive: true });
    spreadSubdirectories([join(state, 'guests'), join(state, 'work')]);
    const goldenDir = existsSync(join(state, 'golden', 'etc', 'passwd')) ? join(state, 'golden') : createGoldenImage(state).dir;
    const attackerKeys = [generateHostKey('ed25519', 'mallory').privateKey, generateHostKey('ecdsa', 'mallory').privateKey];
    // A guest's forwards reach only this fleet's guests, at their own address and SSH port.
    const findGuest = (address: string, p: number) => (p === port ? emu.guestAt(address) : undefined);
    const env = { newRoot: join(state, '.newroot'), masks: [state], hostModel: emu.hostModel, spawner: emu.spawner, attackerKeys, hostNetwork: !!opts.hostNetwork, findGuest };
    try {
      await emu.overlays.start();
      // Every guest's overlay is asked for at once: the holder makes them while this loop goes on.
      const clones = addresses.map((address, k) => {
        const name = guestName(k + 1, opts.guests);
        const upper = join(state, 'guests', name);
        const work = join(state, 'work', name);
        mkdirSync(upper, { recursive: true });
        const fresh = readdirSync(upper).length === 0;
        mkdirSync(work, { recursive: true });
        const root = emu.overlays.mount({ lower: goldenDir, upper, work });
        root.catch(() => {}); // awaited below, in order; the first failure is the one reported
        return { name, address, upper, fresh, root };
      });
      for (const [k, c] of clones.entries()) {
        const dir = await c.root;
        if (c.fresh && opts.uniqueKeys) makeUnique(dir, c.name);
        emu.guests.push(new Guest({ index: k + 1, name: c.name, address: c.address, port, dir, upper: c.upper }, env));
      }
      await emu.spawner.start();
      await Promise.all(emu.guests.map((g) => g.start()));
      for (const spec of opts.faults ?? []) await emu.setFault(spec);
      emu.writeInventory();
      emu.writeKnownHosts();
      await emu.listenControl();
    } catch (err) {
      await emu.stop();
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EADDRINUSE') throw new FleetError(`cannot listen on ${subnet} port ${port}: address in use (is another emulator running? try --port or --subnet)`);
      throw err;
    }
    writeFileSync(join(state, 'emulator.pid'), `${process.pid}\n`);
    emu.startupMs = Math.round(performance.now() - t0);
    return emu;
  }

  guestRefs(): GuestRef[] {
    return this.guests.map((g) => ({ index: g.cfg.index, name: g.cfg.name, address: g.cfg.address }));
  }

  /** The guest at exactly this address (as its listener binds it), if any. */
  guestAt(address: string): Guest | undefined {
    this.byAddress ??= new Map(this.guests.map((g) => [g.cfg.address, g]));
    return this.byAddress.get(address);
  }

  guest(nameOrAddress: string): Guest {
    const g = this.guests.find((x) => x.cfg.name === nameOrAddress || x.cfg.address === nameOrAddress || String(x.cfg.index) === nameOrAddress);
    if (!g) throw new UsageError(`no emulated guest '${nameOrAddress}'`);
    return g;
  }

  /** Applies one `KIND[:MS]@WHO` fault spec; returns the guests it hit. */
  async setFault(spec: string): Promise<string[]> {
    const { fault, guests } = parseFault(spec, this.guestRefs(), this.seed);
    await Promise.all(guests.map((r) => this.guests[r.index - 1]!.setFault(fault)));
    return guests.map((g) => g.name);
  }

  /** Clears faults (one kind, or all) on the guests a selection names (default: all). */
  async clearFaults(kind?: FaultKind, who = 'all'): Promise<void> {
    const { guests } = parseFault(`${kind ?? 'refuse'}@${who}`, this.guestRefs(), this.seed);
    await Promise.all(guests.map((r) => this.guests[r.index - 1]!.setFault(undefined, kind)));
  }

  status(): EmulatorStatus {
    const per: GuestStatus[] = this.guests.map((g) => g.status());
    return {
      pid: process.pid,
      state: this.state,
      subnet: this.subnet,
      port: this.port,
      guests: per.length,
      sshdRunning: per.filter((g) => g.sshd === 'running').length,
      connections: per.reduce((n, g) => n + g.connections, 0),
      commands: per.reduce((n, g) => n + g.commands, 0),
      faults: per.flatMap((g) => g.faults.map((f) => ({ guest: g.name, kind: f.kind, ms: f.ms }))),
      hostModel: this.hostModel.status(),
      hostTools: { sudo: hasSudo(), sftpServer: !!sftpServerPath },
      startedAt: this.startedAt.toISOString(),
      startupMs: this.startupMs,
    };
  }

  /** The emulator's truth: the public host keys each guest serves now (a hypervisor console's view). */
  publicHostKeys(guest: Guest): string[] {
    return guest.servedPublicKeys();
  }

  hostPattern(guest: Guest): string {
    return this.port === 22 ? guest.cfg.address : `[${guest.cfg.address}]:${this.port}`;
  }

  writeKnownHosts(): void {
    const lines = ['# known_hosts written by `fleet emulator up`: every guest\'s current host keys'];
    for (const g of this.guests) for (const key of this.publicHostKeys(g)) lines.push(`${this.hostPattern(g)} ${key}`);
    writeFileSync(this.knownHostsPath, `${lines.join('\n')}\n`);
  }

  writeInventory(): void {
    const lines = ['# inventory written by `fleet emulator up`', '[emulator]'];
    for (const g of this.guests) lines.push(`${g.cfg.name} ansible_host=${g.cfg.address}`);
    lines.push('', '[emulator:vars]', `ansible_port=${this.port}`, `ansible_user=${ADMIN_USER}`, '');
    writeFileSync(this.inventoryPath, lines.join('\n'));
    // A bare address list too, for peer tools (pssh -h, pdsh -w ^file, clush --hostfile).
    writeFileSync(join(this.state, 'hosts'), `${this.guests.map((g) => g.cfg.address).join('\n')}\n`);
  }

  private async listenControl(): Promise<void> {
    const path = join(this.state, 'emulator.sock');
    rmSync(path, { force: true });
    const { serveControl } = await import('./control.js');
    this.control = await serveControl(this, path);
  }

  /** Stops every guest and the control socket; the state directory stays (remove it with `down --remove`). */
  async stop(): Promise<void> {
    const control = this.control;
    this.control = undefined;
    if (control) await new Promise<void>((r) => control.close(() => r()));
    await Promise.all(this.guests.map((g) => g.close()));
    await this.spawner.close();
    await this.overlays.close();
    rmSync(join(this.state, 'emulator.sock'), { force: true });
    const pidFile = join(this.state, 'emulator.pid');
    if (existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() === String(process.pid)) rmSync(pidFile);
    await this.lock?.release();
    this.lock = undefined;
  }
}
