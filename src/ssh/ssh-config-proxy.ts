// Jump hosts as written: ProxyJump lists, `-J`/`-o ProxyJump=`/`-o ProxyCommand=` in Ansible's
// ansible_ssh_common_args, and the `ssh -W %h:%p user@bastion` ProxyCommand recognised as a jump.
import { ShlexError, shlexSplit } from '../core/shlex.js';

/** A hop as written, before ssh_config resolves its HostName, User, Port and IdentityFile. */
export interface HopSpec {
  host: string;
  user?: string;
  port?: number;
  identityFile?: string;
}

export type ProxySpec = { jump: HopSpec[] } | { proxyCommand: string } | { none: true };

/** `[user@]host[:port]` or `ssh://[user@]host[:port]`, comma-separated; null when a part is not one. */
export function parseJumpList(text: string): HopSpec[] | null {
  const hops: HopSpec[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    const m = /^(?:ssh:\/\/)?(?:([^@\s/]+)@)?(\[[^\]]+\]|[^:@\s/[\]]+)(?::(\d+))?\/?$/.exec(part);
    if (!m) return null;
    const port = m[3] === undefined ? undefined : Number(m[3]);
    if (port !== undefined && (port < 1 || port > 65535)) return null;
    hops.push({ host: m[2].replace(/^\[|\]$/g, ''), ...(m[1] ? { user: m[1] } : {}), ...(port ? { port } : {}) });
  }
  return hops.length ? hops : null;
}

// Unquoted, these make sh do more than split words: expansions, redirections, other commands, globs.
const SH_SPECIAL = '$`;&|<>()*?\n';

/**
 * The words `sh -c` (where ssh hands a ProxyCommand) would pass to the command, or null when sh would do
 * more than split words: an unterminated quote, `$` or a backquote outside single quotes, an unquoted
 * operator, newline, `*` or `?`, or `~user`. Quotes group; a backslash escapes any character outside
 * quotes, only `$`, a backquote, `"` and `\` inside double quotes; `#` at a word's start is a comment.
 * Deliberately not sh: `[` stays literal (as sh leaves a pattern that names no file, the usual case for
 * `-W [%h]:%p`), and a leading `~` is left for the IdentityFile expansion to turn into the home directory.
 */
export function shWords(text: string): string[] | null {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (c === '#' && !inWord) {
      break;
    } else if (SH_SPECIAL.includes(c) || (c === '~' && !inWord && !/^~(\/|[ \t]|$)/.test(text.slice(i, i + 2)))) {
      return null;
    } else if (c === "'") {
      const end = text.indexOf(c, i + 1);
      if (end < 0) return null;
      word += text.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      inWord = true;
      for (i++; text[i] !== '"'; i++) {
        if (i >= text.length || text[i] === '$' || text[i] === '`') return null;
        let ch = text[i]!;
        if (ch === '\\' && i + 1 < text.length && '$`"\\\n'.includes(text[i + 1]!)) {
          ch = text[++i]!;
          if (ch === '\n') continue;
        }
        word += ch;
      }
    } else if (c === '\\') {
      // A backslash at the very end stays, as in sh; before a newline both go (a continued line).
      if (i + 1 < text.length) i++;
      if (text[i] !== '\n') word += text[i];
      inWord = true;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

// ssh options that take no argument and change nothing about where the connection goes.
const HARMLESS_FLAGS = /^-[qTNnxaCv46]+$/;

/**
 * `ssh [-i KEY] [-p PORT] [-l USER] -W %h:%p [-q] [user@]bastion`: the usual bastion ProxyCommand is a
 * jump host (fleet then opens one connection to the bastion for every guest behind it). Anything else
 * is null: the command is run as written.
 */
export function proxyCommandAsJump(command: string): HopSpec | null {
  const w = shWords(command);
  if (!w || w.length === 0 || !/(^|\/)ssh$/.test(w[0])) return null;
  let forward = false;
  let dest: string | undefined;
  const hop: Partial<HopSpec> = {};
  for (let i = 1; i < w.length; i++) {
    const a = w[i];
    if (a === '-W') {
      if (!/^(%h|\[%h\]):%p$/.test(w[++i] ?? '')) return null;
      forward = true;
    } else if (a === '-i' || a === '-p' || a === '-l') {
      const v = w[++i];
      if (v === undefined) return null;
      if (a === '-i') hop.identityFile = v;
      else if (a === '-l') hop.user = v;
      else if (/^\d+$/.test(v)) hop.port = Number(v);
      else return null;
    } else if (a === '-o') {
      // Only options that do not move the connection elsewhere (host key checks stay fleet's).
      if (!/^(StrictHostKeyChecking|UserKnownHostsFile|LogLevel|BatchMode|ConnectTimeout|ServerAliveInterval|ServerAliveCountMax)[= ]/i.test(w[++i] ?? '')) return null;
    } else if (HARMLESS_FLAGS.test(a)) {
      continue;
    } else if (!a.startsWith('-') && dest === undefined) {
      dest = a;
    } else {
      return null;
    }
  }
  if (!forward || !dest) return null;
  const parsed = parseJumpList(dest);
  if (!parsed || parsed.length !== 1) return null;
  return { ...parsed[0], ...(hop.user ? { user: hop.user } : {}), ...(hop.port ? { port: hop.port } : {}), ...(hop.identityFile ? { identityFile: hop.identityFile } : {}) };
}

/** A ProxyCommand: a jump when it is the `ssh -W %h:%p` form, else the command itself; `none` is none. */
export function proxyFromCommand(command: string): ProxySpec {
  if (command.trim().toLowerCase() === 'none') return { none: true };
  const hop = proxyCommandAsJump(command);
  return hop ? { jump: [hop] } : { proxyCommand: command };
}

/**
 * The proxy in Ansible's `ansible_ssh_common_args` (or `ansible_ssh_extra_args`): `-J LIST`,
 * `-o ProxyJump=LIST` or `-o ProxyCommand=...`; undefined when it names none. Throws a message when
 * the words cannot be read.
 */
export function proxyFromSshArgs(args: string): ProxySpec | undefined {
  // As Ansible splits them before handing them to ssh: shlex, then each word trimmed and empty ones dropped.
  let w: string[];
  try {
    w = shlexSplit(args).map((a) => a.trim()).filter((a) => a !== '');
  } catch (err) {
    if (err instanceof ShlexError) throw new Error(`${err.message} in '${args}'`);
    throw err;
  }
  for (let i = 0; i < w.length; i++) {
    let a = w[i];
    if (a === '-J' || a.startsWith('-J')) {
      const list = a === '-J' ? w[++i] : a.slice(2);
      const hops = list === undefined ? null : list.toLowerCase() === 'none' ? [] : parseJumpList(list);
      if (!hops) throw new Error(`cannot read the jump hosts in '${args}' (expected -J [user@]host[:port][,...])`);
      return hops.length ? { jump: hops } : { none: true };
    }
    if (a === '-o' || a.startsWith('-o')) {
      a = a === '-o' ? (w[++i] ?? '') : a.slice(2);
      const m = /^(ProxyJump|ProxyCommand)\s*[= ]\s*([\s\S]*)$/i.exec(a);
      if (!m) continue;
      if (m[1].toLowerCase() === 'proxycommand') return proxyFromCommand(m[2]);
      if (m[2].trim().toLowerCase() === 'none') return { none: true };
      const hops = parseJumpList(m[2]);
      if (!hops) throw new Error(`cannot read ProxyJump '${m[2]}' (expected [user@]host[:port][,...])`);
      return { jump: hops };
    }
  }
  return undefined;
}
