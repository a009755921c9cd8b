// Guest roots as copy-on-write overlays (lower: the golden image, upper: what the guest changed),
// made and held by one `fleet-sandbox --overlays` process as detached mounts. A guest's merged view
// is the path /proc/<holder>/fd/<n>: the emulator reads and writes guest files there (the kernel does
// copy-up and whiteouts), and each sandboxed command clones that mount into its own namespace. No
// overlay sits in a mount table, so no sandbox pays for copying thousands of them. Protocol:
// sandbox/overlays.c.
import { execFileSync } from 'node:child_process';
import { FleetError } from '../core/index.js';
import { errnoName, SANDBOX_BIN, startService, stopService, type ServiceProcess } from './sandbox-service.js';

export interface OverlayLayers {
  /** The golden image: read-only, shared by every guest. */
  lower: string;
  /** The guest's own changes. */
  upper: string;
  /** The overlay's scratch directory: empty, on the same file system as upper. */
  work: string;
}

interface Pending {
  resolve: (root: string) => void;
  reject: (err: Error) => void;
  layers: OverlayLayers;
}

export class OverlayHolder {
  private proc?: ServiceProcess;
  private holderPid = 0;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closing = false;
  /** Set once the holder has died: every guest root went with it. */
  private lost?: string;

  /** Starts the holder process. */
  async start(): Promise<void> {
    const proc = startService('--overlays', (line) => this.onLine(line));
    this.proc = proc;
    if (!proc.pid) await proc; // could not even start: the rejection below names why
    this.holderPid = proc.pid!;
    void proc.then((r) => {
      this.lost = r.signal ?? `exit code ${r.exitCode}`;
      this.proc = undefined;
      if (!this.closing) console.error(`emulator: the guest overlay holder (${SANDBOX_BIN} --overlays) ended (${this.lost}); guest roots are gone, restart the emulator`);
      for (const p of this.pending.values()) p.reject(new FleetError(`the guest overlay holder ended (${this.lost})`));
      this.pending.clear();
    });
  }

  private onLine(line: string): void {
    const [kind, idText, value] = line.split(' ');
    const p = this.pending.get(Number(idText));
    if (!p) return;
    this.pending.delete(Number(idText));
    if (kind === 'M') p.resolve(`/proc/${this.holderPid}/fd/${value}`);
    else p.reject(mountError(Number(value), p.layers));
  }

  /** Makes one guest's overlay; resolves to the path of its merged root. */
  mount(layers: OverlayLayers): Promise<string> {
    if (!this.proc) return Promise.reject(new FleetError(`the guest overlay holder is not running${this.lost ? ` (ended: ${this.lost})` : ''}`));
    for (const p of [layers.lower, layers.upper, layers.work]) {
      if (/[\t\n]/.test(p)) return Promise.reject(new FleetError(`a path with a tab or newline cannot hold a guest root: ${JSON.stringify(p)}`));
    }
    const id = this.nextId++;
    return new Promise<string>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, layers });
      this.proc!.stdin.write(`M ${id} ${layers.lower}\t${layers.upper}\t${layers.work}\n`);
    });
  }

  /** Ends the holder: the overlays are released once no sandbox holds a clone. */
  async close(): Promise<void> {
    this.closing = true;
    await stopService(this.proc);
  }
}

function mountError(errno: number, layers: OverlayLayers): FleetError {
  const name = errnoName(errno);
  if (name === 'EMFILE' || name === 'ENFILE') {
    return new FleetError(`cannot mount a guest root: out of file descriptors (${name}); the overlay holder keeps one per guest: raise the open files limit (RLIMIT_NOFILE, \`ulimit -n\`) above the number of guests`);
  }
  if (name === 'ENODEV') return new FleetError('cannot mount a guest root: this kernel has no overlay file system (modprobe overlay)');
  if (name === 'ENOSYS') return new FleetError('cannot mount a guest root: this kernel lacks the mount API (fsopen, Linux 5.2 or later)');
  return new FleetError(`cannot mount the guest root over ${layers.upper} (lower ${layers.lower}, work ${layers.work}): ${name} (upper and work must be on one file system that supports overlay upper layers)`);
}

/** Each overlay mount probes its work directory by creating and deleting a few inodes; ext4 then
 * skips recently deleted inodes when it allocates, scanning further each time within one block
 * group, so mounting hundreds of overlays slowed down quadratically (500: ~4.7 s on disk, 0.13 s
 * on tmpfs). Marked as top directories (`chattr +T`), the parents spread their subdirectories over
 * the block groups (500: ~1 s). Elsewhere (tmpfs, no chattr) nothing is needed and nothing happens. */
export function spreadSubdirectories(dirs: string[]): void {
  try {
    execFileSync('chattr', ['+T', ...dirs], { stdio: 'ignore' });
  } catch {
    /* not an ext2/3/4 file system, or no chattr: the mounts are only slower */
  }
}
