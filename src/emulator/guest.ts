// One emulated guest: its sshd (an ssh2 Server fed from its own TCP listener on its own loopback
// address, and from other guests' forwards to it), public-key auth against its own files, sandboxed
// exec/shell/sftp, forwards to other guests' sshd (forward.ts), its faults, and the control socket
// its `systemctl restart ssh` talks to.
import { chmodSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { Transform, type Duplex } from 'node:stream';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import ssh2 from 'ssh2';
import type { AuthContext, Connection, ParsedKey, ServerChannel, ServerConfig, Session } from 'ssh2';
import { kexAlgorithms } from '../ssh/kex.js';
import type { Fault, FaultKind } from './faults.js';
import { forwardChannel, localForwardingAllowed, type ForwardTarget } from './forward.js';
import { bootMachineId, personalize } from './golden.js';
import { authorizedKeys, forgetGuestDir, loadHostKeys, lookupUser, readGuest, type GuestUser } from './guest-fs.js';
import type { HostModel } from './host-model.js';
import { sftpServerPath, type SandboxProcess, type SandboxRequest, type SandboxSpawner } from './sandbox.js';
import { preStartFailure, preStartScript, sshdPreStart } from './sshd-unit.js';

const { Server, utils } = ssh2;
const ACCEPT_ENV = /^(LANG|LC_[A-Z_]+)$/;
// Key exchanges as OpenSSH 9.9+ offers them: the post-quantum hybrid first.
const serverAlgorithms = () => ({ kex: kexAlgorithms() }) as ServerConfig['algorithms'];

export interface GuestConfig {
  index: number;
  name: string;
  address: string;
  port: number;
  /** The guest's root as it sees it (its merged overlay): the emulator reads and writes its files here. */
  dir: string;
  /** Where its own changes are kept on disk (the overlay's upper layer). */
  upper?: string;
}

/** What all guests of one emulator share. */
export interface GuestEnvironment {
  newRoot: string;
  masks: string[];
  hostModel: HostModel;
  /** Starts every guest's sandboxed commands. */
  spawner: SandboxSpawner;
  /** Host key presented under the `hostkey` fault: somebody else's key. */
  attackerKeys: string[];
  /** Guests' commands share the host's network namespace instead of each guest having its own. */
  hostNetwork: boolean;
  /** The fleet's guest whose sshd is at exactly this address and port, if any: where a forward may go. */
  findGuest(address: string, port: number): Guest | undefined;
}

export interface GuestStatus {
  name: string;
  address: string;
  port: number;
  sshd: 'running' | 'stopped' | 'failed';
  connections: number;
  commands: number;
  faults: Fault[];
}

export class Guest implements ForwardTarget {
  readonly faults = new Map<FaultKind, Fault>();
  private sshd: 'running' | 'stopped' | 'failed' = 'stopped';
  private hostKeys: string[] = [];
  /** Keys served when the emulator started this guest (what a cloned-key attacker holds). */
  private bootKeys: string[] = [];
  private server?: InstanceType<typeof Server>;
  private attacker?: InstanceType<typeof Server>;
  private listener?: net.Server;
  private control?: net.Server;
  private statusSocket?: net.Server;
  /** Open connections to its sshd: TCP sockets, and channels other guests forward to it. */
  private readonly sockets = new Set<Duplex>();
  /** Connections accepted while the `hang` fault held: answered once it is cleared, as by an sshd that wakes up. */
  private readonly held = new Set<Duplex>();
  private readonly processes = new Set<SandboxProcess>();
  private closed = false;
  private booted?: Promise<void>;

  constructor(readonly cfg: GuestConfig, private readonly env: GuestEnvironment) {}

  get name(): string {
    return this.cfg.name;
  }

  /** Boots the guest: sshd with the keys found in its /etc/ssh. */
  async start(): Promise<void> {
    await this.startSshd();
  }

  /** What the guest sets up when it first runs something: its name in /etc (a clone's first-boot
   * customization; until then its layer holds nothing) and the control sockets its service shims
   * talk to. Nothing but its own commands reaches either. */
  private firstBoot(): Promise<void> {
    this.booted ??= (async () => {
      const { upper } = this.cfg;
      if (upper && !lstatSync(join(upper, 'etc', 'hostname'), { throwIfNoEntry: false })) {
        personalize(this.cfg.dir, { hostname: this.cfg.name, address: this.cfg.address });
      }
      bootMachineId(this.cfg.dir);
      if (!this.closed) await this.listenControl();
    })().catch((err: unknown) => {
      this.booted = undefined; // the next command tries again
      throw err;
    });
    return this.booted;
  }

  /** (Re)starts sshd like systemd would: new host keys for new connections, sessions kept. */
  async startSshd(): Promise<{ ok: boolean; message: string }> {
    const pre = await this.runPreStart();
    if (pre) {
      this.sshd = 'failed';
      await this.applyListening();
      return { ok: false, message: pre };
    }
    const { keys, errors } = loadHostKeys(this.cfg.dir);
    if (keys.length === 0) {
      this.sshd = 'failed';
      await this.applyListening();
      return { ok: false, message: [...errors, 'sshd: no hostkeys available -- exiting.'].join('\n') };
    }
    this.hostKeys = keys;
    if (this.bootKeys.length === 0) this.bootKeys = keys;
    this.server = undefined; // rebuilt lazily with the new keys
    this.sshd = 'running';
    await this.applyListening();
    return { ok: true, message: errors.join('\n') };
  }

  /** The unit's ExecStartPre= commands (sshd-unit.ts), as root on the guest; the first failure that
   * counts stops the start, as systemd's does. Returns that failure's message. */
  private async runPreStart(): Promise<string | undefined> {
    const steps = sshdPreStart(this.cfg.dir);
    if (steps.length === 0) return undefined;
    const r = await this.consoleExec(preStartScript(steps));
    return preStartFailure(steps, { ...r, stderr: r.stderr.toString() });
  }

  async stopSshd(): Promise<void> {
    this.sshd = 'stopped';
    await this.applyListening();
  }

  async setFault(fault: Fault | undefined, kind?: FaultKind): Promise<void> {
    if (fault) this.faults.set(fault.kind, fault);
    else if (kind) this.faults.delete(kind);
    else this.faults.clear();
    await this.applyListening();
    if (!this.faults.has('hang')) {
      const waiting = [...this.held];
      this.held.clear();
      for (const sock of waiting) if (!sock.destroyed) this.serve(sock);
    }
  }

  /** The hypervisor console's view: a root shell command on this guest, no SSH involved (works while
   * its sshd is down or faulty). Output is collected; the caller decides what to do with it. */
  async consoleExec(command: string, stdin?: Buffer): Promise<{ exitCode: number | null; signal: string | null; stdout: Buffer; stderr: Buffer }> {
    const root = lookupUser(this.cfg.dir, 'root') ?? { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh', groups: [0] };
    const proc = await this.spawn({ ...root, shell: '/bin/sh' }, {}, ['/bin/sh', '-c', command]);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    proc.stdout.on('data', (d: Buffer) => out.push(d));
    proc.stderr.on('data', (d: Buffer) => err.push(d));
    proc.stdin.on('error', () => {});
    proc.stdin.end(stdin ?? '');
    const r = await proc.result;
    this.processes.delete(proc);
    return { ...r, stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
  }

  /** Starts argv in this guest's sandbox as `user`; tracked until the guest closes. */
  private async spawn(
    user: GuestUser, env: Record<string, string>, argv: string[], extra: Pick<SandboxRequest, 'pty' | 'login'> = {},
  ): Promise<SandboxProcess> {
    await this.firstBoot();
    const proc = await this.env.spawner.spawn({
      guestDir: this.cfg.dir, newRoot: this.env.newRoot, masks: this.env.masks, hostname: this.cfg.name, user, env, argv, hostNetwork: this.env.hostNetwork, ...extra,
    });
    this.processes.add(proc);
    void proc.result.then(() => this.processes.delete(proc));
    if (this.closed) proc.abandon();
    return proc;
  }

  private attackerPublicKeys(): Map<string, string> {
    const out = new Map<string, string>();
    for (const text of this.env.attackerKeys) {
      const parsed = utils.parseKey(text);
      const key = Array.isArray(parsed) ? parsed[0]! : (parsed as ParsedKey);
      out.set(key.type, key.getPublicSSH().toString('base64'));
    }
    return out;
  }

  /** `type base64` of every host key this guest's sshd serves (empty while it is not running). */
  servedPublicKeys(): string[] {
    if (this.sshd !== 'running') return [];
    return this.hostKeys.map((text) => {
      const parsed = utils.parseKey(text);
      const key = Array.isArray(parsed) ? parsed[0]! : (parsed as ParsedKey);
      return `${key.type} ${key.getPublicSSH().toString('base64')}`;
    });
  }

  status(): GuestStatus {
    return {
      name: this.cfg.name,
      address: this.cfg.address,
      port: this.cfg.port,
      sshd: this.sshd,
      connections: this.sockets.size,
      commands: this.processes.size,
      faults: [...this.faults.values()],
    };
  }

  /** Listening exactly when sshd runs and the guest is not told to refuse connections. */
  private async applyListening(): Promise<void> {
    const want = !this.closed && this.sshd === 'running' && !this.faults.has('refuse');
    if (want && !this.listener) {
      const srv = net.createServer({ noDelay: true }, (sock) => this.onSocket(sock));
      this.listener = srv;
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ host: this.cfg.address, port: this.cfg.port, backlog: 511 }, () => {
          srv.off('error', reject);
          resolve();
        });
      });
    } else if (!want && this.listener) {
      // Stop accepting at once; sessions already open live on, as with a real sshd restart.
      this.listener.close();
      this.listener = undefined;
    }
  }

  /** A connection to this guest's SSH port forwarded by another guest (over the fleet's LAN, as it
   * were): taken exactly as the TCP listener takes one, faults and all; refused (false, nothing
   * opened) whenever a TCP connection would be. */
  connect(open: () => Duplex): boolean {
    if (!this.listener) return false;
    this.onSocket(open());
    return true;
  }

  private onSocket(sock: Duplex): void {
    this.sockets.add(sock);
    sock.once('close', () => this.sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    if (this.faults.has('hang')) {
      // Accepted, not answered while the fault holds (destroyed on close()).
      this.held.add(sock);
      sock.once('close', () => this.held.delete(sock));
      return;
    }
    this.serve(sock);
  }

  private serve(sock: Duplex): void {
    // A mitm holds the key the guest booted with (the cloned one): with it, it is invisible; once the
    // guest has new keys, it can only present its own, which the victim pinned if it believed the
    // swapped output.
    const impostor = this.faults.has('hostkey') || (this.faults.has('mitm') && !this.servesBootKeys());
    const server = impostor ? this.attackerServer() : this.sshServer();
    server.injectSocket(sock as net.Socket); // ssh2 uses only its stream side (a forwarded channel has no other)
  }

  private sshServer(): InstanceType<typeof Server> {
    this.server ??= new Server({ hostKeys: this.hostKeys, ident: 'OpenSSH_9.2p1 clonefleet-emulator', algorithms: serverAlgorithms() }, (c) => this.onClient(c));
    return this.server;
  }

  private servesBootKeys(): boolean {
    return this.bootKeys.length === this.hostKeys.length && this.bootKeys.every((k, i) => k === this.hostKeys[i]);
  }

  private attackerServer(): InstanceType<typeof Server> {
    this.attacker ??= new Server({ hostKeys: this.env.attackerKeys, ident: 'OpenSSH_9.2p1 clonefleet-emulator', algorithms: serverAlgorithms() }, (c) => this.onClient(c));
    return this.attacker;
  }

  private onClient(client: Connection): void {
    let user: GuestUser | undefined;
    client.on('error', () => {});
    client.on('authentication', (ctx) => {
      user = this.authenticate(ctx);
    });
    client.on('ready', () => {
      client.on('session', (accept) => this.onSession(accept(), user!, client));
      client.on('tcpip', (accept, reject, info) => forwardChannel(client, accept, reject, info, {
        allowed: () => localForwardingAllowed(readGuest(this.cfg.dir, '/etc/ssh/sshd_config') ?? ''),
        find: (address, port) => {
          const g = this.env.findGuest(address, port);
          return g === this ? undefined : g;
        },
      }));
    });
  }

  private authenticate(ctx: AuthContext): GuestUser | undefined {
    if (ctx.method !== 'publickey' || this.faults.has('auth-reject')) {
      ctx.reject(['publickey']);
      return undefined;
    }
    const user = lookupUser(this.cfg.dir, ctx.username);
    if (!user || (user.uid === 0 && !this.permitsRoot())) {
      ctx.reject(['publickey']);
      return undefined;
    }
    const key = authorizedKeys(this.cfg.dir, user).find(
      (k) => k.type === ctx.key.algo.replace(/^rsa-sha2-(256|512)$/, 'ssh-rsa') && k.getPublicSSH().equals(ctx.key.data),
    );
    if (!key) {
      ctx.reject(['publickey']);
      return undefined;
    }
    if (!ctx.signature) {
      ctx.accept(); // the client asks whether this key would do
      return user;
    }
    if (key.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) !== true) {
      ctx.reject(['publickey']);
      return undefined;
    }
    ctx.accept();
    return user;
  }

  private permitsRoot(): boolean {
    const config = readGuest(this.cfg.dir, '/etc/ssh/sshd_config') ?? '';
    return /^\s*PermitRootLogin\s+(yes|prohibit-password|without-password)\b/im.test(config);
  }

  private onSession(session: Session, user: GuestUser, client: Connection): void {
    const env: Record<string, string> = {};
    let running: SandboxProcess | undefined;
    session.on('env', (accept, reject, info) => {
      if (ACCEPT_ENV.test(info.key)) {
        env[info.key] = info.val;
        accept?.();
      } else reject?.();
    });
    // A pty request gives the session's commands a terminal of that size; sshd passes TERM on.
    let pty: { rows: number; cols: number } | undefined;
    session.on('pty', (accept, _reject, info) => {
      pty = { rows: info.rows || 24, cols: info.cols || 80 };
      if (info.term) env.TERM = info.term;
      accept?.();
    });
    session.on('window-change', (accept, _reject, info) => {
      accept?.();
      if (!pty || !info.rows || !info.cols) return;
      pty = { rows: info.rows, cols: info.cols };
      running?.resize(pty.rows, pty.cols);
    });
    session.on('signal', (accept, _reject, info) => {
      accept?.();
      running?.kill(`SIG${info.name}` as NodeJS.Signals);
    });
    const start = (channel: ServerChannel, argv: string[], counted: boolean, login = false) => {
      void this.runInChannel(channel, user, argv, { env, pty: counted ? pty : undefined, login }, client, counted, (p) => (running = p));
    };
    session.on('exec', (accept, _reject, info) => start(accept(), [user.shell, '-c', info.command], true));
    session.on('shell', (accept) => start(accept(), [user.shell], true, true));
    session.on('subsystem', (accept, reject, info) => {
      if (info.name !== 'sftp' || !sftpServerPath) return reject();
      start(accept(), [sftpServerPath], false);
    });
  }

  private async runInChannel(
    channel: ServerChannel,
    user: GuestUser,
    argv: string[],
    { env, pty, login }: { env: Record<string, string>; pty?: { rows: number; cols: number }; login: boolean },
    client: Connection,
    counted: boolean,
    onStart: (p: SandboxProcess) => void,
  ): Promise<void> {
    let channelClosed = false;
    const closed = new Promise<void>((resolve) => channel.once('close', () => resolve(void (channelClosed = true))));
    channel.on('error', () => {});
    const slow = this.faults.get('slow');
    if (slow) await delay(slow.ms);
    const release = counted ? await this.env.hostModel.acquire() : () => {};
    if (channelClosed || this.closed) return release();
    let proc: SandboxProcess;
    try {
      proc = await this.spawn(user, { ...env, SSH_CONNECTION: `${this.cfg.address} 0 ${this.cfg.address} ${this.cfg.port}` }, argv, { pty, login });
    } catch (err) {
      release();
      if (channelClosed) return;
      channel.stderr.write(`${(err as Error).message}\n`);
      channel.exit(255);
      channel.end();
      return;
    }
    onStart(proc);
    const drop = this.faults.get('drop');
    const dropTimer = drop ? setTimeout(() => (client as unknown as { _sock?: Duplex })._sock?.destroy(), drop.ms) : undefined;
    proc.stdin.on('error', () => {});
    channel.pipe(proc.stdin);
    // Keys are swapped in what commands print; an SFTP stream is binary (the line-wise swap would hold its replies).
    const stdout = this.faults.has('mitm') && counted ? proc.stdout.pipe(swapPublicKeys(this.attackerPublicKeys())) : proc.stdout;
    stdout.pipe(channel, { end: false });
    proc.stderr.pipe(channel.stderr, { end: false });
    const outputDone = once(stdout);
    const abandon = () => proc.abandon(); // nobody is left to read
    if (channelClosed) abandon();
    else channel.once('close', abandon);
    const result = await proc.result;
    await Promise.race([outputDone, closed]);
    clearTimeout(dropTimer);
    channel.off('close', abandon);
    release();
    if (channelClosed) return;
    if (result.signal) channel.exit(result.signal.replace(/^SIG/, ''), false, '');
    else channel.exit(result.exitCode ?? 255);
    channel.end();
  }

  /** Two sockets in the guest's /run/fleet: control.sock (root only, by its file mode: a request's
   * words cannot prove who sent it) for changes, status.sock (anyone) for status queries. */
  private async listenControl(): Promise<void> {
    const dir = join(this.cfg.dir, 'run', 'fleet');
    mkdirSync(dir, { recursive: true });
    this.control = await this.listenService(join(dir, 'control.sock'), 0o600, false);
    this.statusSocket = await this.listenService(join(dir, 'status.sock'), 0o666, true);
  }

  private async listenService(path: string, mode: number, queriesOnly: boolean): Promise<net.Server> {
    rmSync(path, { force: true });
    const srv = net.createServer({ allowHalfOpen: true }, (sock) => {
      let req = '';
      sock.on('error', () => {});
      sock.on('data', (d) => (req += d.toString()));
      sock.on('end', () => {
        const [action = '', unit = 'ssh'] = req.trim().split(/\s+/);
        const query = action === 'status' || action === 'is-active';
        const reply = !query && queriesOnly
          ? Promise.resolve({ code: 1, message: `Failed to ${action} ${unit}.service: Access denied`, stdout: false })
          : this.serviceAction(action, unit);
        void reply.then(({ code, message, stdout }) => sock.end(`${code} ${stdout ? 1 : 2}\n${message ? `${message}\n` : ''}`));
      });
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(path, () => resolve());
    });
    chmodSync(path, mode);
    return srv;
  }

  /** What `systemctl ACTION ssh` does on this guest. */
  private async serviceAction(action: string, unit: string): Promise<{ code: number; message: string; stdout?: boolean }> {
    const failed = 'Job for ssh.service failed because the control process exited with error code.\n' +
      'See "systemctl status ssh.service" and "journalctl -xeu ssh.service" for details.';
    switch (action) {
      case 'start':
      case 'restart':
      case 'reload':
      case 'try-restart':
      case 'force-reload': {
        const r = await this.startSshd();
        return r.ok ? { code: 0, message: '' } : { code: 1, message: `${r.message}\n${failed}` };
      }
      case 'stop':
        await this.stopSshd();
        return { code: 0, message: '' };
      case 'is-active': {
        const state = this.sshd === 'running' ? 'active' : this.sshd === 'failed' ? 'failed' : 'inactive';
        return { code: state === 'active' ? 0 : 3, message: state, stdout: true };
      }
      case 'status': {
        const state = this.sshd === 'running' ? 'active (running)' : this.sshd === 'failed' ? 'failed' : 'inactive (dead)';
        return { code: this.sshd === 'running' ? 0 : 3, message: `● ${unit}.service - OpenBSD Secure Shell server\n     Active: ${state}`, stdout: true };
      }
      default:
        return { code: 1, message: `Unknown operation '${action}'.` };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.processes) p.abandon();
    for (const s of this.sockets) s.destroy();
    await this.applyListening();
    for (const srv of [this.control, this.statusSocket]) if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()));
    this.control = this.statusSocket = undefined;
    await Promise.allSettled([...this.processes].map((p) => p.result));
    forgetGuestDir(this.cfg.dir);
  }
}

/** Line by line, replaces every `<type> <base64>` public key of a known type with the attacker's key
 * of that type: what a man in the middle does to `cat /etc/ssh/ssh_host_*_key.pub`. */
function swapPublicKeys(attacker: Map<string, string>): Transform {
  let pending = '';
  const swap = (text: string) =>
    text.replace(/\b(ssh-ed25519|ecdsa-sha2-nistp256|ssh-rsa) (AAAA[A-Za-z0-9+/=]+)/g, (m, type: string) => {
      const blob = attacker.get(type);
      return blob ? `${type} ${blob}` : m;
    });
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      pending += chunk.toString('latin1');
      const cut = pending.lastIndexOf('\n') + 1;
      const ready = pending.slice(0, cut);
      pending = pending.slice(cut);
      done(null, Buffer.from(swap(ready), 'latin1'));
    },
    flush(done) {
      done(null, Buffer.from(swap(pending), 'latin1'));
    },
  });
}

function once(stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
}
