// Account hazards from /etc/passwd, /etc/group, /etc/shadow and sudoers: a UID-0 account besides
// root, an admin account that can log in with a password, and one password hash shared by guests
// (crackable from any clone's /etc/shadow). Hashes never leave this module except as a short digest.
import { createHash } from 'node:crypto';
import { GROUP, PASSWD, SHADOW, SUDOERS, SUDOERS_D } from './guest-script.js';
import type { Finding, GuestFacts } from './model.js';

export interface Account {
  name: string;
  uid: number;
  gid: number;
}

type Guest = { host: string; facts: GuestFacts };

const fields = (text: string | undefined) =>
  (text ?? '').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')).map((l) => l.split(':'));

export function parsePasswd(text: string | undefined): Account[] {
  return fields(text).filter((f) => f.length >= 4).map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]) }));
}

/** Group name -> gid and members. */
export function parseGroups(text: string | undefined): Map<string, { gid: number; members: string[] }> {
  return new Map(fields(text).filter((f) => f.length >= 3).map((f) => [f[0]!, { gid: Number(f[2]), members: (f[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean) }]));
}

/** Account -> its password field. */
export function parseShadow(text: string | undefined): Map<string, string> {
  return new Map(fields(text).filter((f) => f.length >= 2).map((f) => [f[0]!, f[1]!]));
}

/**
 * Whether a password field lets someone log in with a password: a crypt hash (`$id$...`) or an
 * old 13-character DES hash. Locked (`!...`, `*`, `!!`, `!*`), `x` and empty fields do not.
 */
export function usableHash(field: string): boolean {
  return /^\$[^$]+\$/.test(field) || /^[./0-9A-Za-z]{13}$/.test(field);
}

/** sudo reads the files of /etc/sudoers.d whose names hold no `.` and do not end in `~`. */
function sudoersFiles(files: Map<string, string>): string[] {
  const dropIns = [...files.keys()].filter((p) => p.startsWith(`${SUDOERS_D}/`) && !/[.~]/.test(p.slice(SUDOERS_D.length + 1)));
  return [SUDOERS, ...dropIns].flatMap((p) => (files.has(p) ? [files.get(p)!] : []));
}

/**
 * Who sudoers lets run any command (a rule whose command list holds `ALL`): user names and
 * `%group` names, with User_Alias names expanded. Narrow rules (one command) are not counted.
 */
export function sudoersAdmins(texts: readonly string[]): { users: Set<string>; groups: Set<string> } {
  const users = new Set<string>();
  const groups = new Set<string>();
  const aliases = new Map<string, string[]>();
  const lines = texts.flatMap((t) => t.replace(/\\\n/g, ' ').split('\n')).map((l) => l.trim());
  const add = (who: string, depth = 0): void => {
    const w = who.trim();
    if (!w || w.startsWith('!')) return;
    if (w.startsWith('%:')) groups.add(w.slice(2));
    else if (w.startsWith('%')) groups.add(w.slice(1));
    else if (aliases.has(w) && depth < 8) for (const a of aliases.get(w)!) add(a, depth + 1);
    else users.add(w);
  };
  for (const l of lines) {
    const alias = /^User_Alias\s+(.*)$/.exec(l);
    if (alias) {
      for (const def of alias[1]!.split(':')) {
        const m = /^\s*([A-Z][A-Z0-9_]*)\s*=\s*(.*)$/.exec(def);
        if (m) aliases.set(m[1]!, m[2]!.split(','));
      }
    }
  }
  for (const l of lines) {
    if (l === '' || l.startsWith('#') || l.startsWith('@') || /^(Defaults|User_Alias|Runas_Alias|Host_Alias|Cmnd_Alias|Cmd_Alias)\b/.test(l)) continue;
    const m = /^(\S+)\s+[^=]+=\s*(.*)$/.exec(l);
    if (!m) continue;
    // Commands after the optional (runas) and tags: any ALL that is not negated grants everything.
    const commands = m[2]!.replace(/^\([^)]*\)\s*/, '').replace(/\b[A-Z_]+:\s*/g, '');
    if (!commands.split(',').some((c) => c.trim() === 'ALL')) continue;
    for (const who of m[1]!.split(',')) add(who);
  }
  return { users, groups };
}

/** The guest's admin accounts: UID 0, or allowed every command by sudoers (directly or by group). */
export function adminAccounts(facts: GuestFacts): Map<string, string> {
  const accounts = parsePasswd(facts.files.get(PASSWD));
  const groups = parseGroups(facts.files.get(GROUP));
  const { users, groups: sudoGroups } = sudoersAdmins(sudoersFiles(facts.files));
  const why = new Map<string, string>();
  for (const a of accounts) {
    if (a.uid === 0) why.set(a.name, 'UID 0');
    else if (users.has(a.name)) why.set(a.name, 'sudo ALL');
    else {
      const g = [...sudoGroups].find((name) => groups.get(name)?.members.includes(a.name) || groups.get(name)?.gid === a.gid);
      if (g) why.set(a.name, `sudo ALL through %${g}`);
    }
  }
  return why;
}

/** Accounts with UID 0 besides root, one finding per account name. */
export function uidZeroFindings(guests: readonly Guest[]): Finding[] {
  const byName = new Map<string, string[]>();
  for (const g of guests) {
    for (const a of parsePasswd(g.facts.files.get(PASSWD))) {
      if (a.uid === 0 && a.name !== 'root') byName.set(a.name, [...(byName.get(a.name) ?? []), g.host]);
    }
  }
  return [...byName].map(([name, hosts]) => ({
    check: 'uid0-account', severity: 'critical', hosts, data: { account: name },
    title: `account '${name}' has UID 0 (root by another name)`,
    remedy: `remove it (userdel ${name}) and give admins a normal account with sudo: playbooks/common-account.yaml`,
    details: [],
  }));
}

/** Admin accounts whose password field allows a password login (or an empty one). */
export function adminPasswordFindings(guests: readonly Guest[]): Finding[] {
  const groups = new Map<string, { name: string; why: string; empty: boolean; hosts: string[] }>();
  for (const g of guests) {
    const shadow = g.facts.files.get(SHADOW);
    if (shadow === undefined) continue;
    const hashes = parseShadow(shadow);
    for (const [name, why] of adminAccounts(g.facts)) {
      const field = hashes.get(name);
      if (field === undefined) continue;
      const empty = field === '';
      if (!empty && !usableHash(field)) continue;
      const key = `${name}\0${why}\0${empty}`;
      const entry = groups.get(key) ?? { name, why, empty, hosts: [] };
      entry.hosts.push(g.host);
      groups.set(key, entry);
    }
  }
  return [...groups.values()].map((e) => ({
    check: 'admin-password', severity: e.empty ? 'critical' : 'high', hosts: e.hosts, data: { account: e.name, admin: e.why, emptyPassword: e.empty },
    title: e.empty ? `admin account '${e.name}' (${e.why}) has an empty password` : `admin account '${e.name}' (${e.why}) can log in with a password`,
    remedy: `lock its password (usermod -L ${e.name}) and log in by key only: playbooks/common-account.yaml`,
    details: [],
  }));
}

/** Short digest naming a hash in reports without showing it. */
const hashId = (hash: string) => createHash('sha256').update(hash).digest('hex').slice(0, 12);

/** The same usable password hash of one account on two or more guests. */
export function sharedHashFindings(guests: readonly Guest[]): Finding[] {
  const groups = new Map<string, { name: string; id: string; hosts: string[] }>();
  for (const g of guests) {
    for (const [name, field] of parseShadow(g.facts.files.get(SHADOW))) {
      if (!usableHash(field)) continue;
      const key = `${name}\0${field}`;
      const entry = groups.get(key) ?? { name, id: hashId(field), hosts: [] };
      entry.hosts.push(g.host);
      groups.set(key, entry);
    }
  }
  return [...groups.values()].filter((e) => e.hosts.length > 1).map((e) => ({
    check: 'shared-password-hash', severity: 'critical', hosts: e.hosts, data: { account: e.name, hashId: e.id },
    title: `account '${e.name}' has the same password hash on ${e.hosts.length} guests (crackable from any one's /etc/shadow)`,
    remedy: `give each guest its own random, locked password: playbooks/common-account.yaml (or usermod -L ${e.name})`,
    details: [`hash digest ${e.id} (SHA-256 of the hash, to tell groups apart)`],
  }));
}
