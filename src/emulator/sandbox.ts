// Starts a process inside one guest's sandbox (the compiled fleet-sandbox launcher) through execa.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa, type Options, type ResultPromise } from 'execa';
import { FleetError } from '../core/index.js';
import { SHARED_ETC } from './golden.js';
import type { GuestUser } from './guest-fs.js';

// Both src/emulator/*.ts (tests) and dist/emulator/*.js sit two levels under the package root.
const SANDBOX_BIN = fileURLToPath(new URL('../../dist/emulator/fleet-sandbox', import.meta.url));
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
}

/** Spawns argv in the guest's sandbox as the login user; stdio are pipes the caller wires up. */
const SPAWN_OPTIONS = {
  stdin: 'pipe',
  stdout: 'pipe',
  stderr: 'pipe',
  buffer: false,
  reject: false,
  extendEnv: false,
  env: {},
  stripFinalNewline: false,
} as const satisfies Options;

export type SandboxProcess = ResultPromise<typeof SPAWN_OPTIONS>;

export function spawnInSandbox(req: SandboxRequest): SandboxProcess {
  const { user } = req;
  const env: Record<string, string> = {
    PATH: user.uid === 0 ? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' : '/usr/local/sbin:/usr/local/bin:/usr/bin:/bin',
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    SHELL: user.shell,
    ...req.env,
  };
  const args = [
    '--guest', req.guestDir,
    '--newroot', req.newRoot,
    '--hostname', req.hostname,
    '--uid', String(user.uid),
    '--gid', String(user.gid),
    '--groups', user.groups.join(','),
    '--cwd', user.home,
    '--guest-bin', GUEST_BIN,
    ...req.masks.flatMap((m) => ['--mask', m]),
    ...SHARED_ETC.flatMap((e) => ['--robind', `/etc/${e}:/etc/${e}`]),
    ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    '--',
    ...req.argv,
  ];
  return execa(SANDBOX_BIN, args, SPAWN_OPTIONS);
}
