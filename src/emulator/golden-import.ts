// A new fleet's golden image taken from a prepared guest of another, running emulator: the guest's
// files as it sees them (its overlay merged over its own image) exist only while that emulator runs,
// so they are read through its console, as root on the guest (tar of its own directories), and
// unpacked into the new state's golden/. The source fleet's client key comes along: the image's
// authorized_keys trust that admin key, as a real image trusts its admin's.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { FleetError, UsageError } from '../core/index.js';
import { controlRequest } from './control.js';
import { addSharedMountPoints, GUEST_DIRS } from './golden.js';

export interface GoldenSource {
  /** State directory of the running emulator that holds the guest. */
  state: string;
  guest: string;
}

/** `STATE/guests/NAME` (the guest's directory in its emulator's state) as a source. */
export function parseGoldenFrom(path: string): GoldenSource {
  const full = resolve(path);
  const guest = basename(full);
  const state = dirname(dirname(full));
  if (basename(dirname(full)) !== 'guests' || !/^[A-Za-z0-9._-]+$/.test(guest) || !existsSync(join(state, 'golden'))) {
    throw new UsageError(`--golden-from ${path}: expected STATE/guests/NAME, a guest of an emulator state directory (e.g. .fleet/emulator/guests/guest001)`);
  }
  return { state, guest };
}

/** Per-guest runtime files the emulator makes at each boot: not part of an image. */
const RUNTIME = ['./run/fleet'];

/**
 * Copies the guest's merged root into `destState`/golden (which must not exist yet) and the source's
 * client key beside it. Only directories, regular files and symlinks are kept: a device node or FIFO
 * a guest's root made has no place in an image every clone starts from.
 */
export async function importGolden(src: GoldenSource, destState: string): Promise<{ dir: string; files: number }> {
  const dest = resolve(destState);
  const golden = join(dest, 'golden');
  if (existsSync(golden)) throw new UsageError(`${dest} already has a golden image; use a new --state, or \`fleet emulator down --state ${destState} --remove\` first`);
  if (resolve(src.state) === dest) throw new UsageError('--golden-from must name a guest of another state directory');
  const sockPath = join(src.state, 'emulator.sock');
  if (!existsSync(sockPath)) {
    throw new UsageError(`the emulator of ${src.state} is not running: a guest's files as it sees them exist only while it runs (fleet emulator up --state ${src.state})`);
  }
  const excludes = RUNTIME.map((p) => `--exclude=${p}`).join(' ');
  const command = `cd / && tar --numeric-owner --one-file-system ${excludes} -cf - ${GUEST_DIRS.map((d) => `./${d}`).join(' ')}`;
  const reply = await controlRequest(sockPath, { op: 'console', guest: src.guest, command }, 120_000);
  const r = reply.console as { exitCode: number | null; stdout: string; stderr: string };
  if (r.exitCode !== 0) {
    throw new FleetError(`could not read ${src.guest}'s files through the console of ${src.state} (exit ${r.exitCode}): ${Buffer.from(r.stderr, 'base64').toString().trim()}`);
  }
  mkdirSync(golden, { recursive: true });
  try {
    execFileSync('tar', ['-x', '-p', '--same-owner', '--numeric-owner', '-C', golden, '-f', '-'], {
      input: Buffer.from(r.stdout, 'base64'),
      stdio: ['pipe', 'ignore', 'pipe'],
      maxBuffer: 64 << 20,
    });
    const files = keepPlainFiles(golden);
    // Entries the sandbox binds from the host were left out (--one-file-system): their mount points stay.
    addSharedMountPoints(join(golden, 'etc'));
    if (!existsSync(join(golden, 'etc', 'passwd'))) throw new FleetError(`${src.guest} of ${src.state} has no /etc/passwd: not an image to clone`);
    for (const f of ['id_ed25519', 'id_ed25519.pub']) copyFileSync(join(src.state, f), join(dest, f));
    return { dir: golden, files };
  } catch (err) {
    rmSync(golden, { recursive: true, force: true });
    throw err;
  }
}

/** Removes everything but directories, regular files and symlinks; returns how many entries stay. */
function keepPlainFiles(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) n += 1 + keepPlainFiles(p);
    else if (st.isFile() || st.isSymbolicLink()) n++;
    else rmSync(p, { force: true });
  }
  return n;
}
