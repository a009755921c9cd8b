// The golden image and its clones: what every emulated guest's /etc, /home, /root, /var, /tmp and
// /run hold. A clone is copy-on-write (an overlay over the image, see overlays.ts). Clones keep the
// image's host keys and machine-id unless asked for unique ones, exactly the field's problem: any
// clone's root can impersonate every other.
import { randomBytes } from 'node:crypto';
import {
  chmodSync, chownSync, closeSync, constants, cpSync, existsSync, fstatSync, ftruncateSync, lstatSync, mkdirSync, openSync, readFileSync,
  readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { generateHostKey, sshKeygen } from './keys.js';

/** Directories of a guest root that belong to the guest (everything else is the host's, read-only). */
export const GUEST_DIRS = ['etc', 'root', 'home', 'var', 'tmp', 'run'] as const;

/** Host /etc entries every guest sees read-only instead of a copy (too many files to clone 500 times). */
export const SHARED_ETC = ['alternatives', 'ssl', 'security', 'ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'profile.d'];

/** Small host /etc files copied into the image so tools (PAM, sudo, shells) behave normally. */
const COPIED_ETC = ['nsswitch.conf', 'host.conf', 'login.defs', 'environment', 'profile', 'shells', 'bash.bashrc',
  'sudo.conf', 'timezone', 'localtime', 'os-release', 'mtab', 'debian_version', 'inputrc'];
const COPIED_PAM = ['sudo', 'common-auth', 'common-account', 'common-password', 'common-session',
  'common-session-noninteractive', 'other', 'su'];

export const ADMIN_USER = 'fleetadm';
export const ADMIN_UID = 1000;
/** A second login without sudo rights, so tests can see sudo refuse. */
export const PLAIN_USER = 'operator';
export const PLAIN_UID = 1001;
/** The shared account's hash: the same on every clone, as in the field; locked (`usermod -L`). */
const ADMIN_HASH = '!$6$cl0nEdG0ldenImg$58NJpnA/jmjR88qDQTsMyVnHOhG18Vpq7LbqWzDvDfEvu7R6pcHlxCAPVVeJpKryhC2F.SXiTESYHWWq0/ByP1';

const HOST_KEY_TYPES = ['ed25519', 'ecdsa', 'rsa'] as const;

function write(path: string, text: string, mode = 0o644): void {
  writeFileSync(path, text, { mode });
  chmodSync(path, mode);
}

function copyHostEtc(etc: string): void {
  for (const name of COPIED_ETC) {
    const src = join('/etc', name);
    if (!existsSync(src) && !isSymlink(src)) continue;
    if (isSymlink(src)) symlinkSync(readlinkSync(src), join(etc, name));
    else cpSync(src, join(etc, name));
  }
  mkdirSync(join(etc, 'pam.d'));
  for (const name of COPIED_PAM) {
    const src = join('/etc/pam.d', name);
    if (existsSync(src)) cpSync(src, join(etc, 'pam.d', name));
  }
  addSharedMountPoints(etc);
}

/** Empty mount points for the host /etc entries the sandbox binds over them read-only. */
export function addSharedMountPoints(etc: string): void {
  for (const name of SHARED_ETC) {
    const src = join('/etc', name);
    if (!existsSync(src) || lstatSync(join(etc, name), { throwIfNoEntry: false })) continue;
    if (lstatSync(src).isDirectory()) mkdirSync(join(etc, name));
    else writeFileSync(join(etc, name), '');
  }
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

const CRONTAB = `SHELL=/bin/sh
PATH=/usr/bin:/usr/sbin:/sbin:/bin:/usr/lib/news/bin
MAILTO=root
#
# check scripts in cron.hourly, cron.daily, cron.weekly, and cron.monthly
#
-*/15 * * * *   root  test -x /usr/lib/cron/run-crons && /usr/lib/cron/run-crons >/dev/null 2>&1
`;

const CRON_SCRIPTS: Record<string, Record<string, string>> = {
  hourly: { 'suse.de-cron-local': 'test -x /etc/cron.hourly/local && /etc/cron.hourly/local' },
  daily: {
    logrotate: 'test -x /usr/sbin/logrotate && /usr/sbin/logrotate /etc/logrotate.conf',
    'suse-do_mandb': 'test -x /usr/bin/mandb && /usr/bin/mandb -q',
    'suse-updatedb': 'test -x /usr/bin/updatedb && /usr/bin/updatedb',
    'suse.de-clean-tmp': 'find /tmp -xdev -type f -atime +30 -delete 2>/dev/null',
  },
  weekly: { 'suse-clean_catman': 'find /var/cache/man -type f -atime +7 -delete 2>/dev/null' },
  monthly: {},
};

function sshdConfig(title: string, keyTypes: readonly string[]): string {
  return [
    `# ${title}`,
    'Port 22',
    ...keyTypes.map((t) => `HostKey /etc/ssh/ssh_host_${t}_key`),
    'PermitRootLogin no',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'AcceptEnv LANG LC_*',
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    '',
  ].join('\n');
}

export interface GoldenImage {
  dir: string;
  clientKey: string;
  clientPublicKey: string;
}

/** Builds STATE/golden and the client key pair (STATE/id_ed25519). */
export function createGoldenImage(state: string): GoldenImage {
  const dir = join(state, 'golden');
  for (const d of GUEST_DIRS) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'root'), 0o700);
  chmodSync(join(dir, 'tmp'), 0o1777);
  const etc = join(dir, 'etc');
  copyHostEtc(etc);
  const client = sshKeygen('ed25519', join(state, 'id_ed25519'), 'fleet-admin@clonefleet');

  mkdirSync(join(etc, 'ssh'));
  for (const t of HOST_KEY_TYPES) {
    sshKeygen(t, join(etc, 'ssh', `ssh_host_${t}_key`), 'root@golden');
    chmodSync(join(etc, 'ssh', `ssh_host_${t}_key`), 0o600);
  }
  write(join(etc, 'ssh', 'sshd_config'), sshdConfig('sshd_config of the golden image', HOST_KEY_TYPES));

  write(join(etc, 'passwd'), [
    'root:x:0:0:root:/root:/bin/bash',
    'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
    'bin:x:2:2:bin:/bin:/usr/sbin/nologin',
    'sys:x:3:3:sys:/dev:/usr/sbin/nologin',
    'sshd:x:100:65534::/run/sshd:/usr/sbin/nologin',
    `${ADMIN_USER}:x:${ADMIN_UID}:${ADMIN_UID}:fleet administration:/home/${ADMIN_USER}:/bin/sh`,
    `${PLAIN_USER}:x:${PLAIN_UID}:${PLAIN_UID}:operator without sudo:/home/${PLAIN_USER}:/bin/sh`,
    'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
    '',
  ].join('\n'));
  write(join(etc, 'group'), [
    'root:x:0:', 'daemon:x:1:', 'sys:x:3:', 'adm:x:4:', 'tty:x:5:', 'sudo:x:27:', 'users:x:100:',
    `${ADMIN_USER}:x:${ADMIN_UID}:`, `${PLAIN_USER}:x:${PLAIN_UID}:`, 'nogroup:x:65534:', '',
  ].join('\n'));
  const day = Math.floor(Date.UTC(2026, 0, 1) / 86_400_000);
  write(join(etc, 'shadow'), [
    `root:!:${day}:0:99999:7:::`, `daemon:*:${day}:0:99999:7:::`, `bin:*:${day}:0:99999:7:::`,
    `sys:*:${day}:0:99999:7:::`, `sshd:*:${day}:0:99999:7:::`, `${ADMIN_USER}:${ADMIN_HASH}:${day}:0:99999:7:::`,
    `${PLAIN_USER}:!:${day}:0:99999:7:::`, `nobody:*:${day}:0:99999:7:::`, '',
  ].join('\n'), 0o640);
  write(join(etc, 'sudoers'), 'Defaults\tenv_reset\nDefaults\tsecure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\nroot\tALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n', 0o440);
  mkdirSync(join(etc, 'sudoers.d'), { mode: 0o750 });
  write(join(etc, 'sudoers.d', ADMIN_USER), `${ADMIN_USER} ALL=(ALL) NOPASSWD: ALL\n`, 0o440);

  write(join(etc, 'crontab'), CRONTAB);
  mkdirSync(join(etc, 'cron.d'));
  for (const [period, scripts] of Object.entries(CRON_SCRIPTS)) {
    mkdirSync(join(etc, `cron.${period}`));
    for (const [name, body] of Object.entries(scripts)) write(join(etc, `cron.${period}`, name), `#!/bin/sh\n${body}\nexit 0\n`, 0o755);
  }
  mkdirSync(join(etc, 'init.d'));
  write(join(etc, 'init.d', 'ssh'), '#!/bin/sh\n# SysV script of the emulated guest: hands the action to the emulator.\nexec fleet-guestctl "$1" ssh\n', 0o755);
  write(join(etc, 'hostname'), 'golden\n');
  write(join(etc, 'machine-id'), `${randomBytes(16).toString('hex')}\n`);

  for (const [user, uid] of [[ADMIN_USER, ADMIN_UID], [PLAIN_USER, PLAIN_UID]] as const) {
    const home = join(dir, 'home', user);
    mkdirSync(join(home, '.ssh'), { recursive: true });
    write(join(home, '.ssh', 'authorized_keys'), `${client.publicKey}\n`, 0o600);
    write(join(home, '.profile'), '# lean on purpose: commands over ssh must start fast\n');
    for (const p of [home, join(home, '.ssh'), join(home, '.ssh', 'authorized_keys'), join(home, '.profile')]) chownSync(p, uid, uid);
    chmodSync(home, 0o750);
    chmodSync(join(home, '.ssh'), 0o700);
  }
  for (const d of ['var/spool/cron/tabs', 'var/log', 'var/lib', 'var/cache/man', 'run/fleet', 'run/sshd']) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  return { dir, clientKey: join(state, 'id_ed25519'), clientPublicKey: client.publicKey };
}

/** A clone's first boot writes its own name, as first-boot customization does: until then (its
 * first command) a clone's layer holds nothing. `guestDir` is the guest's merged root. */
export function personalize(guestDir: string, opts: { hostname: string; address: string }): void {
  const etc = join(guestDir, 'etc');
  write(join(etc, 'hostname'), `${opts.hostname}\n`);
  write(join(etc, 'hosts'), `127.0.0.1\tlocalhost\n${opts.address}\t${opts.hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
}

/**
 * What systemd does at boot when /etc/machine-id is empty (or reads "uninitialized"), as an image
 * prepared for cloning leaves it: writes a new random ID. Opened without following a symlink and
 * only on the guest's own file system: the guest's root owns that file, the emulator writes it.
 */
export function bootMachineId(guestDir: string): boolean {
  const path = join(guestDir, 'etc', 'machine-id');
  // Checked read-only first: opening an image's file for writing copies it into the clone's layer.
  for (const mode of [constants.O_RDONLY, constants.O_RDWR]) {
    let fd: number | undefined;
    try {
      fd = openSync(path, mode | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      const st = fstatSync(fd);
      if (!st.isFile() || st.dev !== statSync(guestDir).dev || st.size > 64) return false;
      const now = readFileSync(fd, 'utf8').trim();
      if (now !== '' && now !== 'uninitialized') return false;
      if (mode === constants.O_RDWR) {
        ftruncateSync(fd, 0);
        writeSync(fd, `${randomBytes(16).toString('hex')}\n`, 0);
        return true;
      }
    } catch {
      return false; // no such file: systemd would create one; an image without it is left as it is
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  return false;
}

/** Gives a fresh clone its own machine-id and host keys (`--unique-keys`). */
export function makeUnique(guestDir: string, hostname: string): void {
  write(join(guestDir, 'etc', 'machine-id'), `${randomBytes(16).toString('hex')}\n`);
  rekeyGuest(guestDir, hostname);
}

/** Gives a guest its own ed25519 and ECDSA keys; RSA is dropped (generating 500 RSA keys is slow). */
export function rekeyGuest(guestDir: string, hostname: string): void {
  const ssh = join(guestDir, 'etc', 'ssh');
  for (const t of ['ed25519', 'ecdsa'] as const) {
    const key = generateHostKey(t, `root@${hostname}`);
    write(join(ssh, `ssh_host_${t}_key`), key.privateKey, 0o600);
    write(join(ssh, `ssh_host_${t}_key.pub`), `${key.publicKey}\n`);
  }
  for (const f of ['ssh_host_rsa_key', 'ssh_host_rsa_key.pub']) rmSync(join(ssh, f), { force: true });
  write(join(ssh, 'sshd_config'), sshdConfig('sshd_config (per-guest keys)', ['ed25519', 'ecdsa']));
}
