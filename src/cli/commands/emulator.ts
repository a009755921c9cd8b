// `fleet emulator ...`: starts the fleet in the foreground or detached, and talks to a running one
// through its control socket.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { FleetError, UsageError } from '../../core/index.js';
import { controlRequest, Emulator, guestAddresses, importGolden, parseGoldenFrom, type EmulatorStatus, type FaultKind } from '../../emulator/index.js';
import { foldHosts } from '../../inventory/index.js';
import { setExitStatus } from '../exit.js';
import { controlSocket as sock, runningPid } from './emulator-console.js';

interface UpOptions {
  guests: number;
  state: string;
  subnet: string;
  port: number;
  uniqueKeys?: boolean;
  /** STATE/guests/NAME of a running emulator: that guest's files become this fleet's image. */
  goldenFrom?: string;
  hostCapacity?: number;
  fault?: string[];
  seed: string;
  hostNetwork?: boolean;
  detach?: boolean;
  json?: boolean;
}

async function fetchStatus(state: string): Promise<EmulatorStatus> {
  const reply = await controlRequest(sock(state), { op: 'status' });
  return reply.status as EmulatorStatus;
}

/**
 * What `up` keeps from an existing state directory (its golden image and every guest root already
 * made, host keys included), so options that only shape new guests are not silently ignored.
 */
export function reuseNote(opts: Pick<UpOptions, 'state' | 'guests' | 'uniqueKeys'>): string | undefined {
  const state = resolve(opts.state);
  if (!existsSync(join(state, 'golden', 'etc', 'passwd'))) return undefined;
  const made = existsSync(join(state, 'guests'))
    ? readdirSync(join(state, 'guests')).filter((n) => readdirSync(join(state, 'guests', n)).length > 0).length
    : 0;
  const fresh = Math.max(0, opts.guests - made);
  return [
    `reusing the state directory ${state}: its golden image and the ${made} guest root(s) already made (files, host keys) are kept`,
    ...(opts.uniqueKeys ? [`--unique-keys applies only to guests created now (${fresh}); the ${Math.min(made, opts.guests)} kept ones keep the keys they have`] : []),
    `to start fresh: fleet emulator down --state ${opts.state} --remove`,
  ].join('\n  ');
}

export async function up(opts: UpOptions): Promise<void> {
  const pid = runningPid(opts.state);
  if (pid) throw new FleetError(`an emulator is already running for ${resolve(opts.state)} (pid ${pid}); \`fleet emulator down --state ${opts.state}\` first`);
  if (opts.goldenFrom) {
    // Before a detached start too: the child then finds golden/ in place, like any existing image.
    const img = await importGolden(parseGoldenFrom(opts.goldenFrom), opts.state);
    process.stderr.write(`fleet emulator: golden image ${img.dir}: ${img.files} entries from ${opts.goldenFrom} as that guest sees them\n`);
  } else {
    const note = reuseNote(opts);
    if (note) process.stderr.write(`fleet emulator: ${note}\n`);
  }
  if (opts.detach) return upDetached(opts);
  const emu = await Emulator.start({
    guests: opts.guests,
    state: opts.state,
    subnet: opts.subnet,
    port: opts.port,
    uniqueKeys: opts.uniqueKeys,
    hostCapacity: opts.hostCapacity ?? null,
    faults: opts.fault,
    seed: opts.seed,
    hostNetwork: opts.hostNetwork,
  });
  printUp(emu.status(), opts.json);
  if (!opts.json) process.stdout.write('Running in the foreground; Ctrl-C stops the fleet.\n');
  await new Promise<void>((resolveStop) => {
    const stop = () => resolveStop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await emu.stop();
}

/** Starts `fleet emulator up` (without --detach) as a background process and waits until it serves. */
async function upDetached(opts: UpOptions): Promise<void> {
  const state = resolve(opts.state);
  mkdirSync(state, { recursive: true });
  const log = join(state, 'emulator.log');
  const out = openSync(log, 'w');
  const bin = fileURLToPath(new URL('../../../bin/fleet', import.meta.url));
  const args = [bin, 'emulator', 'up', '--guests', String(opts.guests), '--state', state, '--subnet', opts.subnet,
    '--port', String(opts.port), '--seed', opts.seed];
  if (opts.uniqueKeys) args.push('--unique-keys');
  if (opts.hostNetwork) args.push('--host-network');
  if (opts.hostCapacity !== undefined) args.push('--host-capacity', String(opts.hostCapacity));
  for (const f of opts.fault ?? []) args.push('--fault', f);
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', out, out] });
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? 1));
  child.unref();
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    if (exited !== null) throw new FleetError(`the emulator exited (${exited}) while starting; see ${log}:\n${readFileSync(log, 'utf8').trim()}`);
    try {
      const status = await fetchStatus(state);
      if (status.pid === child.pid) {
        printUp(status, opts.json);
        return;
      }
    } catch {
      /* not listening yet */
    }
    await delay(100);
  }
  child.kill('SIGTERM');
  throw new FleetError(`the emulator did not come up within 180 s; see ${log}`);
}

function printUp(s: EmulatorStatus, json?: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(s)}\n`);
    return;
  }
  const first = guestAddresses(s.subnet, 1)[0];
  process.stdout.write([
    `emulator up: ${s.guests} guests (${s.sshdRunning} sshd running) on ${s.subnet} port ${s.port}, pid ${s.pid}, ${s.startupMs} ms`,
    `  state      ${s.state}`,
    `  inventory  ${join(s.state, 'inventory')}   (plain list: ${join(s.state, 'hosts')})`,
    `  known_hosts ${join(s.state, 'known_hosts')}`,
    `  client key ${join(s.state, 'id_ed25519')}`,
    `  try: ssh -i ${join(s.state, 'id_ed25519')} -p ${s.port} -o UserKnownHostsFile=${join(s.state, 'known_hosts')} -o StrictHostKeyChecking=yes fleetadm@${first}`,
    ...(s.hostTools.sudo ? [] : ['  note: this machine has no sudo, so `sudo` on guests fails (apt-get install sudo)']),
    ...(s.hostTools.sftpServer ? [] : ['  note: this machine has no sftp-server, so SFTP is refused (apt-get install openssh-sftp-server)']),
    '',
  ].join('\n'));
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function down(opts: { state: string; remove?: boolean }): Promise<void> {
  const state = resolve(opts.state);
  const pid = runningPid(state);
  if (pid) {
    process.kill(pid, 'SIGTERM'); // our own emulator, by the PID it recorded
    // Stopped means the process is gone, not only its pid file: until then it may still hold the
    // guests' addresses, and an `up` right after would find them in use.
    const deadline = Date.now() + 30_000;
    while (processAlive(pid) && Date.now() < deadline) await delay(50);
    if (processAlive(pid)) throw new FleetError(`emulator pid ${pid} did not stop within 30 s`);
    process.stdout.write(`emulator stopped (pid ${pid})\n`);
  } else {
    process.stdout.write(`no emulator running for ${state}\n`);
  }
  if (opts.remove) {
    if (!existsSync(join(state, 'golden'))) throw new UsageError(`${state} does not look like an emulator state directory; not removing it`);
    rmSync(state, { recursive: true, force: true });
    process.stdout.write(`removed ${state}\n`);
  }
}

export async function status(opts: { state: string; json?: boolean }): Promise<void> {
  if (!runningPid(opts.state)) {
    if (opts.json) process.stdout.write(`${JSON.stringify({ running: false, state: resolve(opts.state) })}\n`);
    else process.stdout.write(`no emulator running for ${resolve(opts.state)}\n`);
    setExitStatus(1);
    return;
  }
  const s = await fetchStatus(opts.state);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ running: true, ...s })}\n`);
    return;
  }
  const h = s.hostModel;
  // One line per fault as set (kind and delay), its guests folded in full (`--json` has one row per guest).
  const faults = new Map<string, string[]>();
  for (const f of s.faults) {
    const key = f.ms ? `${f.kind}:${f.ms}` : f.kind;
    faults.set(key, [...(faults.get(key) ?? []), f.guest]);
  }
  process.stdout.write([
    `emulator pid ${s.pid}: ${s.guests} guests on ${s.subnet} port ${s.port}, up since ${s.startedAt}`,
    `  sshd running  ${s.sshdRunning}/${s.guests}`,
    `  connections   ${s.connections}   commands running ${s.commands}`,
    `  host model    capacity ${h.capacity ?? 'unlimited'}, running ${h.running}, queue now ${h.queueNow}, peak ${h.queuePeak}, minutes with a queue ${h.minutesWithQueue}`,
    `  faults        ${faults.size === 0 ? 'none' : [...faults].map(([k, g]) => `${k} on ${g.length}: ${foldHosts(g)}`).join('\n                ')}`,
    '',
  ].join('\n'));
}

export async function fault(specs: string[], opts: { state: string; clear?: string | boolean }): Promise<void> {
  if (!runningPid(opts.state)) throw new FleetError(`no emulator running for ${resolve(opts.state)}`);
  if (opts.clear !== undefined) {
    const [kind, who] = typeof opts.clear === 'string' ? opts.clear.split('@') : [undefined, undefined];
    await controlRequest(sock(opts.state), { op: 'fault-clear', kind: (kind || undefined) as FaultKind | undefined, who });
    process.stdout.write('faults cleared\n');
  }
  for (const spec of specs) {
    const reply = await controlRequest(sock(opts.state), { op: 'fault-set', spec });
    const guests = reply.guests as string[];
    process.stdout.write(`${spec}: ${guests.length === 0 ? 'no guest' : `${guests.length} guest${guests.length === 1 ? '' : 's'}: ${foldHosts(guests)}`}\n`);
  }
  if (specs.length === 0 && opts.clear === undefined) throw new UsageError('nothing to do: give KIND[:MS]@WHO specs or --clear');
}

// The action was checked with the other words (../positionals.ts): start or stop.
export async function sshd(action: 'start' | 'stop', guest: string, opts: { state: string }): Promise<void> {
  const reply = await controlRequest(sock(opts.state), { op: 'sshd', guest, action });
  const result = reply.sshd as { ok: boolean; message: string } | undefined;
  if (result?.message) process.stderr.write(`${result.message}\n`);
  if (result && !result.ok) setExitStatus(1);
}
