// One long-lived shell per guest (and one root shell, opened on the first sudo step) that runs every
// step of a playbook in turn. A guest command started over SSH costs a channel, a session and a fresh
// process tree on the guest (on the emulator, a new sandbox: ~3 ms of CPU); a step sent to a shell
// that is already there costs what it would cost in a script: a step made of programs (`uname -r`,
// `a | b > f`) runs in the shell itself, a plain built-in (`test -s FILE`) too, with no process, and
// anything else in a subshell that parses it with eval (nothing leaks from one step to the next, a
// syntax error or `exit` ends only the subshell): guards.ts, inShell. Starting
// `sh -c` per step instead cost an exec of the shell each time, the largest part of a converged
// play's guest CPU. A step's stdin is a here-document or /dev/null (the shell reads ahead on a pipe,
// so a step must never read the shell's own stdin); it ends with a line carrying a marker and its
// exit status on stdout, and the marker on stderr. Steps that do not wait on the admin are sent
// together in one write (a batch: send()); each starts only if the one before it ended well, so the
// guest does what it would do step by step, without a round trip per step.
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
  /** `ifChanged` said no: the step the command depends on did not change this guest. */
  unchangedDep?: true;
  /** The command never started: an earlier command of its batch failed, or the run was stopped (stop()). */
  notRun?: true;
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
  /** Exit statuses other than 0 that do not stop the batch (a file step's "changed"). */
  alsoOk?: number[];
  /** Run only when the step of this index changed the guest (its shell variable, see `changed`). */
  ifChanged?: number;
  /**
   * The command is shell text of fleet's own that sets only `fleet_` variables and never exits or
   * reads the shell's stdin: it runs in the shell itself, no subshell.
   */
  own?: boolean;
  /** Record in a shell variable whether this step (of that index) changed the guest: when it exits with one of `statuses`. */
  changed?: { step: number; statuses: number[] };
  /**
   * The file this command stats first (an `own` command, exit 0 when it changed nothing): when a
   * batch holds several, one `stat` reads them all and each takes its line from `$fleet_pl`.
   */
  statPath?: string;
}

/** A command of a batch: its text and how it runs. */
export interface ShellCommand extends ShellRun {
  command: string;
}

/** What a `stat` line says of a file: size, mode, uid, gid, user, group. */
export const STAT_FORMAT = '%s %a %u %g %U %G';

/**
 * Commands of a batch whose stat one `stat` can take for all (statPath): in the shell itself (no
 * time limit) and tested by nothing but `creates` (a built-in test), so nothing of theirs runs
 * between that stat and their check. Two or more, else none.
 */
function sharedStats(commands: ShellCommand[]): number[] {
  const at = commands.flatMap((c, i) => (c.statPath !== undefined && c.own && !c.timeoutMs && c.guard?.when === undefined && c.guard?.unless === undefined ? [i] : []));
  return at.length > 1 ? at : [];
}

/** Extra time the guest's own `timeout` gets to stop a command before the link is given up. */
const GRACE_MS = 10_000;

interface Pending {
  marker: string;
  o: ShellRun;
  out: OutputCapture;
  err: OutputCapture;
  status?: string;
  errDone: boolean;
  /** When the command became the one running (its predecessor's marker arrived): its time limit counts from there. */
  started: number;
  timer?: NodeJS.Timeout;
  resolve: (r: ShellResult) => void;
}

/** How many bytes at the end of `data` may be the start of `needle` (kept for the next chunk; usually none). */
function partial(data: Buffer, needle: string): number {
  for (let i = Math.max(0, data.length - needle.length + 1); i < data.length; i++) {
    if (data[i] === needle.charCodeAt(0) && needle.startsWith(data.subarray(i).toString('latin1'))) return data.length - i;
  }
  return 0;
}

/** Shell text setting the variable that says whether a step changed the guest (`1`) or not. */
export const changedVar = (step: number) => `fleet_c${step}`;

export class GuestShell {
  /** Commands sent and not finished, in the order the guest runs them. */
  private queue: Pending[] = [];
  /** Index in `queue` of the command whose stdout (stderr) is being read. */
  private outAt = 0;
  private errAt = 0;
  /** Bytes that may be the start of a marker, kept until the next chunk says. */
  private outHold: Buffer = Buffer.alloc(0);
  private errHold: Buffer = Buffer.alloc(0);
  private ended = false;
  /** What the guest said between steps (sudo refusing to start the shell): the next step's stderr. */
  private stray = Buffer.alloc(0);

  /** Markers are this shell's random prefix and a counter: unique per step, never guessed by a step. */
  private readonly prefix = `fleet-${randomBytes(9).toString('hex')}-`;
  private steps = 0;

  private constructor(private readonly proc: RemoteProcess, private readonly conn: SshConnection, private readonly stopPath: string) {}

  /** Settles when the shell has ended. */
  get done(): Promise<unknown> {
    return this.proc.result.catch(() => undefined);
  }

  /** Starts the shell (under `sudo -n` for `root`: a guest that refuses says so at the first step). */
  static async open(conn: SshConnection, root: boolean, stopPath: string): Promise<GuestShell> {
    let shell: GuestShell | undefined;
    const proc = await conn.start(root ? 'exec sudo -n -- /bin/sh' : 'exec /bin/sh', {
      onStdout: (d) => shell?.onData('out', d),
      onStderr: (d) => shell?.onData('err', d),
    });
    shell = new GuestShell(proc, conn, stopPath);
    void proc.result.then(() => shell!.onEnd());
    return shell;
  }

  get alive(): boolean {
    return !this.ended && !this.conn.lost;
  }

  /** Commands sent that have not finished (the first may be running). */
  get inFlight(): number {
    return this.queue.length;
  }

  /** Runs one command. */
  run(command: string, o: ShellRun): Promise<ShellResult> {
    return this.send([{ ...o, command }])[0]!;
  }

  /**
   * Sends commands in one write; the guest runs them in order and the results come back in order.
   * A command starts only if every one before it in the batch finished ok (exit 0, one of its
   * `alsoOk`, skipped by its conditions) and no stop was asked for (stop()): a guest stops at its
   * first failed step as if the admin had sent the steps one by one. `seed` is shell text run first
   * (the changed-ness of steps the admin already knows).
   */
  send(commands: ShellCommand[], seed = ''): Promise<ShellResult>[] {
    if (this.queue.length) throw new Error('a batch is already running in this shell');
    const texts: string[] = [`fleet_ok=1${seed ? `; ${seed}` : ''}`];
    // One stat for the files of several file steps (sharedStats), taken just before the first of them
    // when all exist; any command after it that ran and may have changed something drops it
    // (`fleet_pv`), and the later file steps then stat on their own.
    const shared = sharedStats(commands);
    const results = commands.map((o, i) => new Promise<ShellResult>((resolve) => {
      const marker = `${this.prefix}${(++this.steps).toString(16).padStart(8, '0')}`;
      const k = shared.indexOf(i);
      if (k === 0) texts.push(prefetch(shared.map((j) => commands[j]!.statPath!)));
      const around = shared.length && i >= shared[0]! ? k >= 0
        ? { pre: `if [ "$fleet_pv" = 1 ]; then fleet_pl=$fleet_p${k}; else fleet_pl=; fi\n`, post: '\nfleet_pl=; case $fleet_s in 0|g11|i) ;; *) fleet_pv=;; esac' }
        : { pre: '', post: '\ncase $fleet_s in i) ;; *) fleet_pv=;; esac' } : { pre: '', post: '' };
      texts.push(this.text(marker, o, around));
      this.queue.push({ marker, o, out: new OutputCapture(o.keep), err: new OutputCapture(o.keep), errDone: false, started: 0, resolve });
    }));
    this.queue[0]!.err.write(this.stray);
    this.stray = Buffer.alloc(0);
    this.outAt = this.errAt = 0;
    if (!this.alive) {
      this.onEnd();
      return results;
    }
    this.arm(this.queue[0]!);
    this.proc.write(`${texts.join('\n')}\n`);
    return results;
  }

  /** The guest text of one command: it prints its marker and status on stdout, then the marker on stderr. */
  private text(marker: string, o: ShellCommand, around = { pre: '', post: '' }): string {
    // The guest's `timeout` needs a process to stop: with a time limit a step gets a shell of its own.
    const limit = o.timeoutMs ? `timeout -k 5 ${Math.max(1, Math.ceil(o.timeoutMs / 1000))} ` : '';
    const run = o.timeoutMs ? `${limit}/bin/sh -c ${q(o.command)}` : o.own ? `{ ${o.command}\n}` : inShell(o.command);
    const stdin = o.input === undefined ? ' </dev/null' : ` <<'${marker}'\n${o.input}${o.input.endsWith('\n') ? '' : '\n'}${marker}`;
    const main = `${run}${stdin}`;
    const guard = !o.guard ? undefined : o.timeoutMs
      ? `${limit}/bin/sh -c ${q(guardScript(o.guard)!)} </dev/null; fleet_g=$?`
      : guardInShell(o.guard, 'fleet_g');
    let body = guard === undefined
      ? `${main}\nfleet_s=$?`
      : `${guard}\nif [ "$fleet_g" = 0 ]; then ${main}\nfleet_s=$?; else fleet_s=g$fleet_g; fi`;
    if (o.ifChanged !== undefined) body = `if [ "\${${changedVar(o.ifChanged)}-}" = 1 ]; then ${body}\nelse fleet_s=i; fi`;
    const ok = ['0', ...(o.alsoOk ?? []).map(String), 'g1[012]', 'i'].join('|');
    const changed = o.changed
      ? `\ncase $fleet_s in ${o.changed.statuses.length ? o.changed.statuses.join('|') : '-'}) ${changedVar(o.changed.step)}=1;; *) ${changedVar(o.changed.step)}=0;; esac`
      : '';
    return `if [ "$fleet_ok" = 1 ] && [ ! -e ${q(this.stopPath)} ]; then ${around.pre}${body}\nprintf '${marker} %s\\n' "$fleet_s"\n` +
      `case $fleet_s in ${ok}) ;; *) fleet_ok=0;; esac${changed}${around.post}\nelse printf '${marker} n\\n'; fi\nprintf '${marker}\\n' >&2`;
  }

  /** The command at the head of the queue starts now: its time limit counts from here. */
  private arm(p: Pending): void {
    p.started = Date.now();
    // The guest's `timeout` stops the command; should the guest not answer at all, give up the link.
    if (p.o.timeoutMs) p.timer = setTimeout(() => this.conn.destroy(), p.o.timeoutMs + GRACE_MS);
  }

  private finish(p: Pending, ended: boolean): void {
    clearTimeout(p.timer);
    const { status, o } = p;
    const timedOut = !!o.timeoutMs && p.started > 0 && Date.now() - p.started >= o.timeoutMs && (ended || status === '124' || status === '137');
    const guard = status?.startsWith('g') ? Number(status.slice(1)) : undefined;
    const numeric = status !== undefined && /^\d+$/.test(status);
    p.resolve({
      exitCode: numeric ? Number(status) : null,
      ...(guard !== undefined ? { guard } : {}),
      ...(status === 'i' ? { unchangedDep: true as const } : {}),
      ...(status === 'n' ? { notRun: true as const } : {}),
      stdout: p.out.result().bytes, stderr: p.err.result().bytes, timedOut,
    });
  }

  /** Completes the head command once both its streams reached its marker; arms the next. */
  private settle(): void {
    while (this.queue.length && this.queue[0]!.status !== undefined && this.queue[0]!.errDone) {
      const p = this.queue.shift()!;
      this.outAt--;
      this.errAt--;
      this.finish(p, false);
      if (this.queue.length) this.arm(this.queue[0]!);
    }
  }

  private onData(which: 'out' | 'err', chunk: Buffer): void {
    if (which === 'err') {
      let data: Buffer = this.errHold.length ? Buffer.concat([this.errHold, chunk]) : chunk;
      this.errHold = Buffer.alloc(0);
      while (data.length) {
        const p = this.queue[this.errAt];
        if (!p) {
          if (this.stray.length < 4096) this.stray = Buffer.concat([this.stray, data]);
          break;
        }
        const at = data.indexOf(`${p.marker}\n`);
        if (at < 0) {
          const keep = partial(data, `${p.marker}\n`);
          p.err.write(data.subarray(0, data.length - keep));
          this.errHold = data.subarray(data.length - keep);
          break;
        }
        p.err.write(data.subarray(0, at));
        p.errDone = true;
        this.errAt++;
        data = data.subarray(at + p.marker.length + 1);
      }
    } else {
      let data: Buffer = this.outHold.length ? Buffer.concat([this.outHold, chunk]) : chunk;
      this.outHold = Buffer.alloc(0);
      while (data.length) {
        const p = this.queue[this.outAt];
        if (!p) break; // nothing is expected: the guest's shell says nothing of its own on stdout
        const at = data.indexOf(`${p.marker} `);
        if (at < 0) {
          const keep = partial(data, `${p.marker} `);
          p.out.write(data.subarray(0, data.length - keep));
          this.outHold = data.subarray(data.length - keep);
          break;
        }
        p.out.write(data.subarray(0, at));
        const nl = data.indexOf(10, at);
        if (nl < 0) {
          this.outHold = data.subarray(at); // the status line is not whole yet
          break;
        }
        p.status = data.subarray(at + p.marker.length + 1, nl).toString('latin1');
        this.outAt++;
        data = data.subarray(nl + 1);
      }
    }
    this.settle();
  }

  private onEnd(): void {
    this.ended = true;
    const first = this.queue[0];
    if (first) {
      if (first.status === undefined) first.out.write(this.outHold);
      if (!first.errDone) first.err.write(this.errHold);
    }
    this.outHold = this.errHold = Buffer.alloc(0);
    for (const p of this.queue.splice(0)) this.finish(p, true);
  }

  close(): void {
    if (!this.ended) this.proc.end();
  }

  /** Shell text run after every command sent so far (removing the stop file). */
  append(text: string): void {
    if (!this.ended) this.proc.write(`${text}\n`);
  }
}

/**
 * Shell text reading the stat lines of `paths` into `fleet_p0`, `fleet_p1`, ... and setting
 * `fleet_pv` to 1, when the batch still runs and every path is a file that exists (as when a fleet
 * is converged); else `fleet_pv` stays empty.
 */
function prefetch(paths: string[]): string {
  const exist = paths.map((p) => `[ -e ${q(p)} ] && [ ! -d ${q(p)} ]`).join(' && ');
  const reads = paths.map((_, k) => `read -r fleet_p${k}`).join('; ');
  return `fleet_pv=; if [ "$fleet_ok" = 1 ] && ${exist}; then fleet_ps=$(stat -L -c '${STAT_FORMAT}' -- ${paths.map(q).join(' ')} 2>/dev/null) && fleet_pv=1; fi\n` +
    `if [ "$fleet_pv" = 1 ]; then { ${reads}; } <<fleet_stat\n$fleet_ps\nfleet_stat\nfi`;
}

/** The login user's shell and, once a sudo step needs it, root's: both over the guest's one connection. */
export class GuestShells {
  private shells = new Map<boolean, Promise<GuestShell>>();
  /** A file whose existence stops the commands already sent from starting (stop()); random per connection. */
  private readonly stopPath = `/tmp/.fleet-stop-${randomBytes(9).toString('hex')}`;
  private stopping?: Promise<unknown>;

  constructor(private readonly conn: SshConnection) {}

  async get(root: boolean): Promise<GuestShell> {
    let s = this.shells.get(root);
    if (s) {
      const shell = await s;
      if (shell.alive || this.conn.lost) return shell;
    }
    // A shell that ended (its step timed out, say) is replaced for the next step.
    s = GuestShell.open(this.conn, root, this.stopPath);
    this.shells.set(root, s);
    s.catch(() => this.shells.delete(root));
    return s;
  }

  /**
   * No command sent and not yet started begins any more: the guest is told over a command of its
   * own (a file that each command tests before it starts), since the shell reads its commands ahead.
   * A command that starts before that file exists still runs.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    const shells = await Promise.all([...this.shells.values()].map((s) => s.catch(() => undefined)));
    if (!shells.some((s) => s && s.alive && s.inFlight > 1)) return;
    this.stopping = this.conn.exec(`: > ${q(this.stopPath)}`).catch(() => undefined);
    await this.stopping;
  }

  async closeAll(): Promise<void> {
    await this.stopping;
    let cleaned = !this.stopping;
    for (const s of this.shells.values()) {
      const shell = await s.catch(() => undefined);
      if (!cleaned && shell?.alive) {
        // After the commands already sent (they see the file and do not start); the shell then ends.
        shell.append(`rm -f -- ${q(this.stopPath)}`);
        shell.close();
        await shell.done;
        cleaned = true;
      }
      shell?.close();
    }
  }
}
