// Lexing of single inventory lines: shell-like words, `key=value` vars, host words with ranges and ports.
import { InputError } from '../core/errors.js';
import { ShlexError, shlexSplit, type ShlexOptions } from '../core/shlex.js';
import { expandRanges, type Where } from './ranges.js';
import type { VarDef } from './model.js';

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Names end up in selection patterns and folded ranges, so the characters those use are refused here.
const HOST_NAME = /^[A-Za-z0-9_.:%@+-]+$/;
export const GROUP_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * A host line's words as Ansible's INI plugin reads them (shlex in POSIX mode with comments): quotes
 * group, a backslash escapes, inside double quotes only `\"` and `\\` are escapes, and `#` starts a
 * comment even inside a word (`x=a#b` is `x=a`). `;` is a plain character here: it starts a comment
 * only at the start of a line, which the callers skip.
 */
export function tokenize(text: string, where: Where): string[] {
  return split(text, where, { comments: '#' });
}

function split(text: string, where: Where, opts: ShlexOptions): string[] {
  try {
    return shlexSplit(text, opts);
  } catch (err) {
    if (err instanceof ShlexError) throw new InputError(err.message, where);
    throw err;
  }
}

/** `key=value` (already unquoted by tokenize) -> [key, value]. */
export function parseVarWord(word: string, where: Where): [string, string] {
  const eq = word.indexOf('=');
  if (eq < 0) throw new InputError(`bad variable '${word}': expected key=value`, where);
  const key = word.slice(0, eq);
  if (!VAR_NAME.test(key)) throw new InputError(`bad variable name '${key}'`, where);
  return [key, word.slice(eq + 1)];
}

/** A `[g:vars]` line: `key=value` or `key = value`, the value optionally quoted, then an optional comment. */
export function parseVarsLine(text: string, where: Where): [string, string] {
  const m = /^([^=\s]*)\s*=\s*(.*)$/.exec(text);
  if (!m) throw new InputError(`bad variable '${text}': expected key=value`, where);
  // Not Ansible's rule (it keeps the raw text, `#` and `;` included, unless it reads as a Python literal):
  // a comment starts at a word's start with `#` or `;`, so `ntp = pool ; primary` is `pool`, and `a#b` stays.
  const words = m[2] === '' ? [] : split(m[2], where, { comments: '#;', commentsInWords: false });
  // Several words unquoted (`motd = hello world`) are one value, as in Ansible's INI vars sections.
  return parseVarWord(`${m[1]}=${words.join(' ')}`, where);
}

export interface HostLine {
  names: string[];
  vars: Map<string, VarDef>;
}

/** A host line: a host word (ranges, optional `:port`) then `key=value` words. Null for an empty line. */
export function parseHostLine(text: string, where: Where & { line: number }): HostLine | null {
  const words = tokenize(text, where);
  if (words.length === 0) return null;
  const vars = new Map<string, VarDef>();
  const { host, port } = splitPort(words[0], where);
  if (port !== undefined) vars.set('ansible_port', { value: port, line: where.line });
  for (const word of words.slice(1)) {
    const [key, value] = parseVarWord(word, where);
    vars.set(key, { value, line: where.line });
  }
  const names = expandRanges(host, where);
  for (const name of names) {
    if (!HOST_NAME.test(name)) throw new InputError(`invalid host name '${name}'`, where);
  }
  return { names, vars };
}

/** `host:port` (one colon outside brackets, digits after it); IPv6 addresses have several and stay whole. */
function splitPort(word: string, where: Where): { host: string; port?: string } {
  const colons: number[] = [];
  let depth = 0;
  for (let i = 0; i < word.length; i++) {
    if (word[i] === '[') depth++;
    else if (word[i] === ']') depth--;
    else if (word[i] === ':' && depth === 0) colons.push(i);
  }
  if (colons.length !== 1) return { host: word };
  const port = word.slice(colons[0] + 1);
  if (!/^\d+$/.test(port)) throw new InputError(`bad port in '${word}'`, where);
  return { host: word.slice(0, colons[0]), port };
}
