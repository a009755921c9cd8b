// Starts processes inside guests' sandboxes. The compiled fleet-sandbox launcher does the sandboxing;
// one long-lived `fleet-sandbox --spawner` process (started through execa) forks a launcher per
// command, so the emulator itself never forks: forking a Node process of ~100 MiB cost the event loop
// about 3 ms per guest command, which capped every fleet-wide operation. Protocol: sandbox/spawner.c.
import { constants as fsc, existsSync, openSync } from 'node:fs';
import net from 'node:net';
import { constants as osc } from 'node:os';
import { Writable, type Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { FleetError } from '../core/index.js';
import { SHARED_ETC } from './golden.js';
import type { GuestUser } from './guest-fs.js';
import { errnoName, SANDBOX_BIN, startService, stopService, type ServiceProcess } from './sandbox-service.js';

// Both src/emulator/*.ts (tests) and dist/emulator/*.js sit two levels under the package root.
const GUEST_BIN = fileURLToPath(new URL('../../dist/emulator/guest-bin', import.meta.url));

const SFTP_SERVERS = ['/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server', '/usr/libexec/sftp-server'];

/** Where the machine's sftp-server lives (Debian: openssh-sftp-server), if it has one. */
export const sftpServerPath: string | undefined = SFTP_SERVERS.find((p) => existsSync(p));

export function checkSandboxBuilt(): void {
  if (!existsSync(SANDBOX_BIN)) {
    throw new FleetError(`emulator sandbox launcher missing at ${SANDBOX_BIN}: run \`npm run build\` (needs a C compiler)`);
  }
  if (process.getuid?.() !== 0) {
    throw new FleetError('the emulator needs root to build per-guest sandboxes (mount namespaces); run it as root');
  }
}

export interface SandboxRequest {
  guestDir: string;
  /** An empty directory used as the mount point of the guest's new root. */
  newRoot: string;
  /** Paths hidden from the guest (the emulator's state directory). */
  masks: string[];
  hostname: string;
  user: GuestUser;
  /** Environment the login passes on (AcceptEnv, SSH_CONNECTION, ...). */
  env: Record<string, string>;
  argv: string[];
  /** A terminal for the command (the client's pty request): its size. */
  pty?: { rows: number; cols: number };
  /** Start argv[0] as a login shell (`-sh`), as sshd starts the shell of an interactive login. */
  login?: boolean;
  /** The host's network instead of the guest's own namespace (loopback only, made on its first command). */
  hostNetwork?: boolean;
}

export interface SandboxExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

/** A command running in a sandbox. stdin/stdout/stderr are the emulator's ends of plain pipes (the
 * command sees pipes, as under OpenSSH's sshd). `result` settles once the command has ended and its
 * stdout and stderr have been read to their end. */
export interface SandboxProcess {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly result: Promise<SandboxExit>;
  kill(signal: NodeJS.Signals): void;
  /** Nobody will read it any more: SIGKILL (the launcher's death takes the guest's whole process
   * tree), and whatever it still writes is drained so its pipes can end and `result` settle. */
  abandon(): void;
  /** With a pty: the terminal's new size (the command gets SIGWINCH). */
  resize(rows: number, cols: number): void;
}

interface Job {
  id: number;
  started: (p: SandboxProcess) => void;
  failed: (e: Error) => void;
  exited?: (status: number) => void;
}

/** The argument list of one launcher run (everything after the program name). */
function launcherArgs(req: SandboxRequest): string[] {
  const { user } = req;
  const env: Record<string, string> = {
    PATH: user.uid === 0 ? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' : '/usr/local/sbin:/usr/local/bin:/usr/bin:/bin',
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    SHELL: user.shell,
    ...req.env,
  };
  return [
    '--guest', req.guestDir,
    '--newroot', req.newRoot,
    '--hostname', req.hostname,
    '--uid', String(user.uid),
    '--gid', String(user.gid),
    '--groups', user.groups.join(','),
    '--cwd', user.home,
    '--guest-bin', GUEST_BIN,
    ...(req.pty ? ['--pty', `${req.pty.rows}x${req.pty.cols}`] : []),
    ...(req.login ? ['--login'] : []),
    '--net', req.hostNetwork ? 'host' : 'private',
    ...req.masks.flatMap((m) => ['--mask', m]),
    ...SHARED_ETC.flatMap((e) => ['--robind', `/etc/${e}:/etc/${e}`]),
    ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    '--',
    ...req.argv,
  ];
}

function decodeWaitStatus(status: number): SandboxExit {
  const sig = status & 0x7f;
  if (sig === 0) return { exitCode: (status >> 8) & 0xff, signal: null };
  const name = Object.entries(osc.signals).find(([, n]) => n === sig)?.[0] as NodeJS.Signals | undefined;
  return { exitCode: null, signal: name ?? 'SIGKILL' };
}

/** Opens the emulator's end of a job's pipe, held by the spawner as its fd `n`. */
function openPipeEnd(spawnerPid: number, n: number, write: boolean): net.Socket | undefined {
  try {
    const fd = openSync(`/proc/${spawnerPid}/fd/${n}`, (write ? fsc.O_WRONLY : fsc.O_RDONLY) | fsc.O_NONBLOCK);
    return new net.Socket({ fd, readable: !write, writable: write });
  } catch (err) {
    // ENXIO: nobody reads the command's stdin any more (it has already exited or closed it).
    if (write && (err as NodeJS.ErrnoException).code === 'ENXIO') return undefined;
    throw err;
  }
}

/** Everything written to a command that no longer reads its stdin goes nowhere, as into a closed pipe. */
function discard(): Writable {
  return new Writable({ write: (_chunk, _enc, done) => done() });
}

export class SandboxSpawner {
  private proc?: ServiceProcess;
  private spawnerPid = 0;
  private ready?: Promise<void>;
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;
  private closing = false;

  /** PID of the spawner process while one runs. */
  get pid(): number | undefined {
    return this.proc ? this.spawnerPid : undefined;
  }

  /** Starts the spawner process (again, if it died); resolves when it is ready. */
  start(): Promise<void> {
    if (this.ready) return this.ready;
    this.ready = new Promise<void>((resolve, reject) => {
      const proc = startService('--spawner', (line) => {
        if (line.startsWith('ready ')) {
          this.spawnerPid = Number(line.slice(6));
          resolve();
        } else this.onMessage(line);
      });
      this.proc = proc;
      void proc.then((r) => {
        const why = r.signal ?? `exit code ${r.exitCode}`;
        reject(new FleetError(`the emulator's sandbox spawner (${SANDBOX_BIN} --spawner) ended (${why}) before it was ready`));
        this.onSpawnerGone(why);
      });
    });
    return this.ready;
  }

  private onSpawnerGone(why: string): void {
    this.proc = undefined;
    this.ready = undefined;
    if (!this.closing) console.error(`emulator: the sandbox spawner ended (${why}); its commands were killed, the next one starts a new spawner`);
    const jobs = [...this.jobs.values()];
    this.jobs.clear();
    // Its jobs died with it (PDEATHSIG): report them as killed.
    for (const j of jobs) {
      if (j.exited) j.exited(osc.signals.SIGKILL);
      else j.failed(new FleetError(`sandbox spawner ended (${why}) before the command started`));
    }
  }

  private onMessage(line: string): void {
    const [kind, idText, ...rest] = line.split(' ');
    const job = this.jobs.get(Number(idText));
    if (!job) return;
    if (kind === 'P') {
      const [fin, fout, ferr, fctl] = rest.slice(1).map(Number) as [number, number, number, number | undefined];
      const opened: net.Socket[] = [];
      try {
        const stdout = openPipeEnd(this.spawnerPid, fout, false)!;
        opened.push(stdout);
        const stderr = openPipeEnd(this.spawnerPid, ferr, false)!;
        opened.push(stderr);
        const control = fctl === undefined ? undefined : openPipeEnd(this.spawnerPid, fctl, true);
        if (control) opened.push(control);
        const stdin = openPipeEnd(this.spawnerPid, fin, true);
        this.send(`O ${job.id}\n`);
        job.started(this.running(job, stdin ?? discard(), stdout, stderr, control));
      } catch (err) {
        // Out of descriptors, say: the command is killed and nothing of it stays open here.
        for (const s of opened) s.destroy();
        this.send(`O ${job.id}\nK ${job.id} ${osc.signals.SIGKILL}\n`);
        job.failed(new FleetError(`cannot open the pipes of a sandboxed command: ${(err as Error).message}`));
      }
    } else if (kind === 'X') {
      this.jobs.delete(job.id);
      job.exited?.(Number(rest[0]));
    } else if (kind === 'F') {
      this.jobs.delete(job.id);
      job.failed(new FleetError(`cannot start a sandboxed command: ${errnoName(Number(rest[0]))}`));
    }
  }

  private running(job: Job, stdin: Writable, stdout: net.Socket, stderr: net.Socket, control?: net.Socket): SandboxProcess {
    const drained = (s: Readable) => new Promise<void>((resolve) => {
      s.once('end', resolve);
      s.once('close', resolve);
    });
    const exited = new Promise<SandboxExit>((resolve) => (job.exited = (status) => {
      // As Node's child_process does: output nobody reads is drained, so that the streams can end.
      for (const s of [stdout, stderr]) if (s.listenerCount('data') === 0) s.resume();
      resolve(decodeWaitStatus(status));
    }));
    const kill = (signal: NodeJS.Signals) => {
      if (this.jobs.has(job.id)) this.send(`K ${job.id} ${osc.signals[signal]}\n`);
    };
    const result = Promise.all([exited, drained(stdout), drained(stderr)]).then(([exit]) => {
      stdin.destroy(); // the command is gone; a client that never sent EOF must not keep the pipe open
      control?.destroy();
      return exit;
    });
    stdout.on('error', () => {});
    stderr.on('error', () => {});
    control?.on('error', () => {});
    return {
      stdin, stdout, stderr, result,
      kill,
      abandon: () => {
        kill('SIGKILL');
        for (const s of [stdout, stderr]) s.unpipe().resume();
      },
      resize: (rows, cols) => {
        if (control && !control.destroyed) control.write(`${rows} ${cols}\n`);
      },
    };
  }

  private send(text: string | Buffer): void {
    this.proc?.stdin.write(text);
  }

  /** Starts argv in the guest's sandbox as the login user. */
  async spawn(req: SandboxRequest): Promise<SandboxProcess> {
    if (this.closing) throw new FleetError('the emulator is stopping');
    await this.start();
    const id = this.nextId++;
    const payload = Buffer.from(launcherArgs(req).map((a) => `${a}\0`).join(''));
    return new Promise<SandboxProcess>((started, failed) => {
      this.jobs.set(id, { id, started, failed });
      this.send(Buffer.concat([Buffer.from(`R ${id} ${payload.length}${req.pty ? ' pty' : ''}\n`), payload]));
    });
  }

  /** Stops the spawner: commands still running are killed. */
  async close(): Promise<void> {
    this.closing = true;
    await stopService(this.proc);
  }
}
