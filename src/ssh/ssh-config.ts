// The OpenSSH client config (~/.ssh/config, or -F FILE): read with the `ssh-config` package, Include
// files inlined, every line numbered, and evaluated per host in ssh's order (first value obtained
// wins; Host and Match blocks; a final pass for `Match final`).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import SSHConfig, { LineType, type Line } from 'ssh-config';
import { InputError } from '../core/errors.js';

/** One option line as written: its words, the raw text after the keyword, where it is. */
export interface ConfigValue {
  key: string;
  values: string[];
  raw: string;
  file: string;
  line: number;
}

type Entry =
  | { kind: 'option'; opt: ConfigValue }
  | { kind: 'host'; patterns: string[]; file: string; line: number; body: Entry[] }
  | { kind: 'match'; criteria: Array<{ key: string; value: string }>; file: string; line: number; body: Entry[] }
  | { kind: 'include'; body: Entry[] };

/** What one host's evaluation gives: options by lower-case key, each list in the order obtained. */
export interface HostConfig {
  /** The first value obtained (ssh's rule), or every IdentityFile/CertificateFile line. */
  options: Map<string, ConfigValue[]>;
}

// Options whose every line counts (ssh accumulates them); the rest keep the first value obtained.
const REPEATABLE = new Set(['identityfile', 'certificatefile', 'localforward', 'remoteforward', 'dynamicforward', 'sendenv', 'setenv']);
const MAX_INCLUDE_DEPTH = 16;

export class SshConfig {
  /** Jump hosts are looked up once per guest behind them: the same answer each time. */
  private readonly memo = new Map<string, HostConfig>();

  private constructor(
    /** The file read ('' when none). */
    readonly file: string,
    private readonly entries: Entry[],
  ) {}

  /** No config at all (`--ssh-config none`, or no ~/.ssh/config). */
  static none(): SshConfig {
    return new SshConfig('', []);
  }

  /** Reads `file` and what it includes; a missing file is `none()` unless `required`. */
  static load(file: string, opts: { required?: boolean } = {}): SshConfig {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if (!opts.required && (err as NodeJS.ErrnoException).code === 'ENOENT') return SshConfig.none();
      throw new InputError(`cannot read ssh config: ${(err as Error).message}`, { file });
    }
    return new SshConfig(file, parseText(text, file, 0));
  }

  /** Parses config text (tests, and files already read); `file` labels lines and resolves Include. */
  static parse(text: string, file: string): SshConfig {
    return new SshConfig(file, parseText(text, file, 0));
  }

  /**
   * Evaluates the config for `host` as ssh would for `ssh host`. `user` is the remote user when the
   * command line or inventory sets it (Match user). Unsupported conditions throw an InputError
   * naming their line: fleet does not guess where a guest is.
   */
  lookup(host: string, user: string | undefined, localUser: string): HostConfig {
    const key = `${host}\0${user ?? ''}\0${localUser}`;
    let found = this.memo.get(key);
    if (!found) {
      found = this.evaluate(host, user, localUser);
      this.memo.set(key, found);
    }
    return found;
  }

  private evaluate(host: string, user: string | undefined, localUser: string): HostConfig {
    const options = new Map<string, ConfigValue[]>();
    const ctx = { host, original: host, user, localUser, final: false, wantsFinal: false };
    const set = (opt: ConfigValue) => {
      const k = opt.key;
      // ProxyJump and ProxyCommand exclude each other: whichever is obtained first is the proxy.
      if ((k === 'proxyjump' || k === 'proxycommand') && (options.has('proxyjump') || options.has('proxycommand'))) return;
      if (REPEATABLE.has(k)) options.set(k, [...(options.get(k) ?? []), opt]);
      else if (!options.has(k)) options.set(k, [opt]);
    };
    const current = () => ({
      hostName: options.get('hostname')?.[0]?.values[0]?.replaceAll('%h', host) ?? host,
      user: ctx.user ?? options.get('user')?.[0]?.values[0] ?? localUser,
    });
    const walk = (entries: Entry[]) => {
      for (const e of entries) {
        if (e.kind === 'option') set(e.opt);
        else if (e.kind === 'include') walk(e.body);
        else if (e.kind === 'host') {
          if (glob(e.patterns, ctx.host)) walk(e.body);
        } else if (matches(e, ctx, current)) walk(e.body);
      }
    };
    walk(this.entries);
    if (ctx.wantsFinal) {
      // ssh's final pass: Host lines now match the HostName, and values obtained so far still win.
      ctx.final = true;
      ctx.host = current().hostName;
      walk(this.entries);
    }
    return { options };
  }
}

type Ctx = { host: string; original: string; user?: string; localUser: string; final: boolean; wantsFinal: boolean };

function matches(e: Extract<Entry, { kind: 'match' }>, ctx: Ctx, current: () => { hostName: string; user: string }): boolean {
  for (const { key, value } of e.criteria) {
    const negate = key.startsWith('!');
    const k = key.replace(/^!/, '').toLowerCase();
    let ok: boolean;
    switch (k) {
      case 'all':
        ok = true;
        break;
      case 'final':
      case 'canonical':
        ctx.wantsFinal = true;
        ok = ctx.final;
        break;
      case 'host':
        ok = glob(value, current().hostName);
        break;
      case 'originalhost':
        ok = glob(value, ctx.original);
        break;
      case 'user':
        ok = glob(value, current().user);
        break;
      case 'localuser':
        ok = glob(value, ctx.localUser);
        break;
      case 'exec':
        throw new InputError(`'Match exec' is not supported: fleet does not run local commands to decide where a guest is (write the condition as Host or Match host/user patterns)`, e);
      default:
        throw new InputError(`'Match ${k}' is not supported (fleet understands all, host, originalhost, user, localuser, final)`, e);
    }
    if (ok === negate) return false;
  }
  return true;
}

// ssh's pattern lists (`*`, `?`, `!negated`, comma or word separated) as the ssh-config package reads
// them, with each pattern compiled once: hundreds of guests are matched against every Host line.
const compiled = new Map<string, RegExp>();
function patternRegex(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    re = new RegExp(`^(?:${pattern.replace(/[\\()[\]{}.+^$|]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')})$`);
    compiled.set(pattern, re);
  }
  return re;
}

/** True when `text` matches the list: a matching negated pattern vetoes, as in ssh_config(5). */
function glob(list: string | string[], text: string): boolean {
  const patterns = Array.isArray(list) ? list : list.split(',');
  let result = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (patternRegex(p.slice(1)).test(text)) return false;
    } else if (!result && patternRegex(p).test(text)) result = true;
  }
  return result;
}

/** Parses one file's text, numbering every line and inlining Include files. */
function parseText(text: string, file: string, depth: number): Entry[] {
  let config: SSHConfig;
  try {
    config = SSHConfig.parse(text);
  } catch (err) {
    // The package does not say where; the first line with an unbalanced quote is the likely place.
    const line = text.split('\n').findIndex((l) => (l.replace(/\\"/g, '').match(/"/g) ?? []).length % 2 === 1) + 1;
    throw new InputError(`malformed ssh config: ${(err as Error).message}`, { file, line: line || undefined });
  }
  const lines = text.split('\n');
  let lineNo = 1;
  const count = (s: string) => (s.match(/\n/g) ?? []).length;
  const convert = (list: Line[], out: Entry[]) => {
    for (const l of list) {
      lineNo += count(l.before);
      const line = lineNo;
      lineNo += count(l.after);
      if (l.type !== LineType.DIRECTIVE) continue;
      const key = l.param.toLowerCase();
      const values = typeof l.value === 'string' ? [l.value] : l.value.map((v) => v.val);
      const raw = rawValue(lines[line - 1] ?? '', l.param);
      if (key === 'host' && 'config' in l) {
        const body: Entry[] = [];
        out.push({ kind: 'host', patterns: values, file, line, body });
        convert(l.config, body);
      } else if (key === 'match' && 'config' in l) {
        const body: Entry[] = [];
        const criteria = Object.entries((l as { criteria: Record<string, unknown> }).criteria).map(([k, v]) => ({
          key: k,
          value: typeof v === 'string' ? v : Array.isArray(v) ? v.map((x: { val: string }) => x.val).join(',') : '',
        }));
        out.push({ kind: 'match', criteria, file, line, body });
        convert(l.config, body);
      } else if (key === 'include') {
        out.push({ kind: 'include', body: includeFiles(values, file, line, depth) });
      } else {
        out.push({ kind: 'option', opt: { key, values, raw, file, line } });
      }
    }
  };
  const top: Entry[] = [];
  convert(config, top);
  return top;
}

/** The text after the keyword and its separator, as ssh hands ProxyCommand to the shell. */
function rawValue(lineText: string, param: string): string {
  const t = lineText.replace(/\r$/, '').trimStart();
  return t.slice(param.length).replace(/^\s*=?\s*/, '').trim();
}

/** Include: paths relative to ~/.ssh, `~` expanded, `*`/`?` globs in the last component; none found is fine (as ssh). */
function includeFiles(patterns: string[], file: string, line: number, depth: number): Entry[] {
  if (depth >= MAX_INCLUDE_DEPTH) throw new InputError(`Include nested more than ${MAX_INCLUDE_DEPTH} deep`, { file, line });
  const out: Entry[] = [];
  for (const p of patterns) {
    const expanded = p.startsWith('~') ? join(homedir(), p.slice(1)) : isAbsolute(p) ? p : join(homedir(), '.ssh', p);
    for (const path of globFiles(expanded)) {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (err) {
        throw new InputError(`Include of ${path} cannot be read: ${(err as Error).message}`, { file, line });
      }
      out.push(...parseText(text, path, depth + 1));
    }
  }
  return out;
}

function globFiles(path: string): string[] {
  const dir = dirname(path);
  const name = basename(path);
  if (!/[*?]/.test(name)) return exists(path) ? [path] : [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => !n.startsWith('.') && glob(name, n)).sort().map((n) => join(dir, n)).filter((p) => !statSync(p).isDirectory());
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
