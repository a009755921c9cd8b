// One long-lived shell per guest (and one root shell, opened on the first sudo step) that runs every
// step of a playbook in turn. A guest command started over SSH costs a channel, a session and a fresh
// process tree on the guest (on the emulator, a new sandbox: ~3 ms of CPU); a step sent to a shell
// that is already there costs a fork at most: it runs in a subshell that parses it with eval (nothing
// leaks from one step to the next, a syntax error or `exit` ends only the subshell), and a step that
// is a plain built-in (`test -s FILE`) runs in the shell itself (guards.ts: inShell). Starting
// `sh -c` per step instead cost an exec of the shell each time, the largest part of a converged
// play's guest CPU. A step's stdin is a here-document or /dev/null (the shell reads ahead on a pipe,
// so a step must never read the shell's own stdin); it ends with a line carrying a marker and its
// exit status on stdout, and the marker on stderr.
import { randomBytes } from 'node:crypto';
import { OutputCapture, shellQuote as q } from '../executor/index.js';
import { guardInShell, guardScript, inShell, type Guards } from './guards.js';
import type { SshConnection } from '../ssh/index.js';

type RemoteProcess = Awaited<ReturnType<SshConnection['start']>>;

export interface ShellResult {
  /** Exit status of the command; null when the shell ended (or the link dropped) before it finished. */
  exitCode: number | null;
  /** Exit status of the guard (`guard` option) when it said no: the command did not run. */
  guard?: number;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
}

export interface ShellRun {
  /** The step's conditions (guards.ts), tested first: the command runs only when they let it. */
  guard?: Guards;
  /** Text fed to the command's stdin (a here-document: text only); default /dev/null. */
  input?: string;
  timeoutMs?: number;
  /** How much of each stream to keep (head and tail). */
  keep: number;
}

/** Extra time the guest's own `timeout` gets to stop a command before the link is given up. */
const GRACE_MS = 10_000;

interface Pending {
  marker: string;
  out: OutputCapture;
  err: OutputCapture;
  outHold: Buffer;
  errHold: Buffer;
  status?: string;
  errDone: boolean;
  done: (r: { status?: string; ended: boolean }) => void;
}

/** Passes `chunk` into `cap` except what may be the start of `marker`; returns what follows the marker, or undefined. */
function scan(p: Pending, which: 'out' | 'err', chunk: Buffer): Buffer | undefined {
  const held = Buffer.concat([which === 'out' ? p.outHold : p.errHold, chunk]);
  const cap = which === 'out' ? p.out : p.err;
  const at = held.indexOf(p.marker);
  if (at >= 0) {
    cap.write(held.subarray(0, at));
    if (which === 'out') p.outHold = held.subarray(at);
    else p.errHold = held.subarray(at);
    return held.subarray(at + p.marker.length);
  }
  const keepBack = Math.min(held.length, p.marker.length);
  cap.write(held.subarray(0, held.length - keepBack));
  const rest = held.subarray(held.length - keepBack);
  if (which === 'out') p.outHold = rest;
  else p.errHold = rest;
  return undefined;
}

export class GuestShell {
  private pending?: Pending;
  private ended = false;
  /** What the guest said between steps (sudo refusing to start the shell): the next step's stderr. */
  private stray = Buffer.alloc(0);

  /** Markers are this shell's random prefix and a counter: unique per step, never guessed by a step. */
  private readonly prefix = `fleet-${randomBytes(9).toString('hex')}-`;
  private steps = 0;

  private constructor(private readonly proc: RemoteProcess, private readonly conn: SshConnection) {}

  /** Starts the shell (under `sudo -n` for `root`: a guest that refuses says so at the first step). */
  static async open(conn: SshConnection, root: boolean): Promise<GuestShell> {
    let shell: GuestShell | undefined;
    const proc = await conn.start(root ? 'exec sudo -n -- /bin/sh' : 'exec /bin/sh', {
      onStdout: (d) => shell?.onData('out', d),
      onStderr: (d) => shell?.onData('err', d),
    });
    shell = new GuestShell(proc, conn);
    void proc.result.then(() => shell!.onEnd());
    return shell;
  }

  get alive(): boolean {
    return !this.ended && !this.conn.lost;
  }

  /** Runs one command; never two at once (the runner is sequential per guest). */
  run(command: string, o: ShellRun): Promise<ShellResult> {
    if (this.pending) throw new Error('a step is already running in this shell');
    const marker = `${this.prefix}${(++this.steps).toString(16).padStart(8, '0')}`;
    // The guest's `timeout` needs a process to stop: with a time limit a step gets a shell of its own.
    const limit = o.timeoutMs ? `timeout -k 5 ${Math.max(1, Math.ceil(o.timeoutMs / 1000))} ` : '';
    const run = o.timeoutMs ? `${limit}/bin/sh -c ${q(command)}` : inShell(command);
    const stdin = o.input === undefined ? ' </dev/null' : ` <<'${marker}'\n${o.input}${o.input.endsWith('\n') ? '' : '\n'}${marker}`;
    const main = `${run}${stdin}`;
    const guard = !o.guard ? undefined : o.timeoutMs
      ? `${limit}/bin/sh -c ${q(guardScript(o.guard)!)} </dev/null; fleet_g=$?`
      : guardInShell(o.guard, 'fleet_g');
    const text = guard === undefined
      ? `${main}\nprintf '${marker} %s\\n' "$?"`
      : `${guard}\nif [ "$fleet_g" = 0 ]; then ${main}\nprintf '${marker} %s\\n' "$?"; else printf '${marker} g%s\\n' "$fleet_g"; fi`;
    const started = Date.now();
    return new Promise<ShellResult>((resolve) => {
      const p: Pending = {
        marker, out: new OutputCapture(o.keep), err: new OutputCapture(o.keep), outHold: Buffer.alloc(0), errHold: Buffer.alloc(0), errDone: false,
        done: ({ status, ended }) => {
          clearTimeout(timer);
          this.pending = undefined;
          const timedOut = !!o.timeoutMs && Date.now() - started >= o.timeoutMs && (ended || status === '124' || status === '137');
          const guard = status?.startsWith('g') ? Number(status.slice(1)) : undefined;
          resolve({
            exitCode: status === undefined || guard !== undefined ? null : Number(status),
            ...(guard !== undefined ? { guard } : {}),
            stdout: p.out.result().bytes, stderr: p.err.result().bytes, timedOut,
          });
        },
      };
      // The guest's `timeout` stops the command; should the guest not answer at all, give up the link.
      const timer = o.timeoutMs ? setTimeout(() => this.conn.destroy(), o.timeoutMs + GRACE_MS) : undefined;
      this.pending = p;
      p.err.write(this.stray);
      this.stray = Buffer.alloc(0);
      if (!this.alive) return p.done({ ended: true });
      this.proc.write(`${text}\nprintf '${marker}\\n' >&2\n`);
    });
  }

  private onData(which: 'out' | 'err', chunk: Buffer): void {
    const p = this.pending;
    if (!p) {
      if (which === 'err' && this.stray.length < 4096) this.stray = Buffer.concat([this.stray, chunk]);
      return;
    }
    if (which === 'err') {
      if (p.errDone) return;
      if (scan(p, 'err', chunk) !== undefined) p.errDone = true;
    } else if (p.status === undefined) {
      const after = scan(p, 'out', chunk);
      if (after !== undefined) {
        const line = /^ (\S+)\n/.exec(after.toString('latin1'));
        if (line) p.status = line[1]!;
        else p.outHold = Buffer.concat([Buffer.from(p.marker), after]); // the line is not whole yet
      }
    }
    if (p.status !== undefined && p.errDone) p.done({ status: p.status, ended: false });
  }

  private onEnd(): void {
    this.ended = true;
    const p = this.pending;
    if (!p) return;
    if (p.status === undefined) p.out.write(p.outHold);
    if (!p.errDone) p.err.write(p.errHold);
    p.done({ status: p.status, ended: true });
  }

  close(): void {
    if (!this.ended) this.proc.end();
  }
}

/** The login user's shell and, once a sudo step needs it, root's: both over the guest's one connection. */
export class GuestShells {
  private shells = new Map<boolean, Promise<GuestShell>>();

  constructor(private readonly conn: SshConnection) {}

  async get(root: boolean): Promise<GuestShell> {
    let s = this.shells.get(root);
    if (s) {
      const shell = await s;
      if (shell.alive || this.conn.lost) return shell;
    }
    // A shell that ended (its step timed out, say) is replaced for the next step.
    s = GuestShell.open(this.conn, root);
    this.shells.set(root, s);
    s.catch(() => this.shells.delete(root));
    return s;
  }

  async closeAll(): Promise<void> {
    for (const s of this.shells.values()) (await s.catch(() => undefined))?.close();
  }
}
