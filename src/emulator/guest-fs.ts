// Reading a guest's own files from outside its sandbox, as its sshd would: users from its passwd and
// group, authorized_keys of a user, and the host keys its sshd_config names.
import { closeSync, constants, fstatSync, openSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { GUEST_DIRS } from './golden.js';

const { utils } = ssh2;

export interface GuestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  groups: number[];
}

/** Maps a path as the guest sees it to the file on the host (only inside the guest's own dirs). */
export function hostPath(guestDir: string, guestPath: string): string | undefined {
  const parts = guestPath.split('/').filter(Boolean);
  if (parts.includes('..') || !GUEST_DIRS.includes(parts[0] as (typeof GUEST_DIRS)[number])) return undefined;
  return join(guestDir, ...parts);
}

const MAX_GUEST_FILE = 1 << 20;

/** Guest directories are the emulator's own paths (no guest can change them): resolved once each,
 * with the device their files report (a guest's overlay has its own). */
const realGuestDirs = new Map<string, { path: string; dev: number }>();
function realGuestDir(guestDir: string): { path: string; dev: number } {
  let real = realGuestDirs.get(guestDir);
  if (real === undefined) realGuestDirs.set(guestDir, (real = { path: realpathSync(guestDir), dev: statSync(guestDir).dev }));
  return real;
}

/** A guest's root is going away (its overlay with the emulator): a later path of the same name is another. */
export function forgetGuestDir(guestDir: string): void {
  realGuestDirs.delete(guestDir);
}

/** Reads a guest file the way the guest's sshd would see it, refusing anything a symlink (or `..`)
 * takes outside the guest's own directories (a guest's root must not make the emulator read host
 * files, say the client's private key, as its host key), and anything but a regular file of sane
 * size: a FIFO as authorized_keys would otherwise block the one event loop every guest shares. */
export function readGuest(guestDir: string, guestPath: string): string | undefined {
  const p = hostPath(guestDir, guestPath);
  if (!p) return undefined;
  let fd: number | undefined;
  try {
    fd = openSync(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_GUEST_FILE) return undefined;
    // Checked on the open file itself, so nothing can swap a path component in between: the kernel
    // names the file the descriptor holds, every symlink already resolved. A guest's overlay is a
    // mount of its own, which the kernel names from its own root: an absolute symlink that leaves it
    // lands on another device, whatever its name.
    const real = realGuestDir(guestDir);
    if (st.dev !== real.dev) return undefined;
    const rel = relative(real.path, readlinkSync(`/proc/self/fd/${fd}`));
    if (rel.startsWith('..') || isAbsolute(rel) || !GUEST_DIRS.includes(rel.split(sep)[0] as (typeof GUEST_DIRS)[number])) return undefined;
    return readFileSync(fd, 'utf8');
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Looks a login up in the guest's /etc/passwd and /etc/group; undefined when the user does not exist. */
export function lookupUser(guestDir: string, name: string): GuestUser | undefined {
  const passwd = readGuest(guestDir, '/etc/passwd') ?? '';
  const line = passwd.split('\n').find((l) => l.split(':')[0] === name);
  if (!line) return undefined;
  const f = line.split(':');
  if (f.length < 7) return undefined;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
  const groups = new Set([gid]);
  for (const g of (readGuest(guestDir, '/etc/group') ?? '').split('\n')) {
    const gf = g.split(':');
    if (gf.length >= 4 && gf[3]!.split(',').includes(name)) groups.add(Number(gf[2]));
  }
  return { name, uid, gid, home: f[5] || '/', shell: f[6] || '/bin/sh', groups: [...groups] };
}

/** Parsed authorized_keys texts: clones share theirs, and every login would parse it twice. */
const parsedAuthorizedKeys = new Map<string, ParsedKey[]>();
const MAX_PARSED = 1000;

/** Public keys a user's ~/.ssh/authorized_keys accepts (options before the key type are skipped). */
export function authorizedKeys(guestDir: string, user: GuestUser): ParsedKey[] {
  const text = readGuest(guestDir, `${user.home}/.ssh/authorized_keys`) ?? '';
  let keys = parsedAuthorizedKeys.get(text);
  if (!keys) {
    if (parsedAuthorizedKeys.size >= MAX_PARSED) parsedAuthorizedKeys.clear();
    parsedAuthorizedKeys.set(text, (keys = parseAuthorizedKeys(text)));
  }
  return keys;
}

function parseAuthorizedKeys(text: string): ParsedKey[] {
  const keys: ParsedKey[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /(?:^|\s)((?:ssh-|ecdsa-|sk-)\S+\s+[A-Za-z0-9+/=]+)/.exec(line);
    if (!m) continue;
    const parsed = utils.parseKey(m[1]!);
    if (!(parsed instanceof Error)) keys.push(Array.isArray(parsed) ? parsed[0]! : parsed);
  }
  return keys;
}

export interface LoadedHostKeys {
  /** Private keys as text, in sshd_config order, for ssh2's Server. */
  keys: string[];
  /** Per rejected key file, why (what sshd would log). */
  errors: string[];
}

/** The host keys a (re)starting sshd of this guest would load: HostKey lines or the default names. */
export function loadHostKeys(guestDir: string): LoadedHostKeys {
  const config = readGuest(guestDir, '/etc/ssh/sshd_config') ?? '';
  let files = config
    .split('\n')
    .map((l) => /^\s*HostKey\s+(\S+)/i.exec(l)?.[1])
    .filter((f): f is string => !!f);
  if (files.length === 0) files = ['rsa', 'ecdsa', 'ed25519'].map((t) => `/etc/ssh/ssh_host_${t}_key`);
  const keys: string[] = [];
  const errors: string[] = [];
  for (const file of files) {
    const text = readGuest(guestDir, file);
    if (text === undefined) {
      errors.push(`Unable to load host key: ${file}`);
      continue;
    }
    const parsed = utils.parseKey(text);
    if (parsed instanceof Error || !text.trim()) errors.push(`Unable to load host key "${file}": invalid format`);
    else keys.push(text);
  }
  return { keys, errors };
}
