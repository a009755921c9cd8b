// A step's conditions on the guest (`when`, `creates`, `unless`), tested before the step runs, in the
// same guest command as the step itself where it can (the guest's shell: guardInShell). They only
// read, so they run in --check mode too.
import { shellQuote as q, wrapSudo } from '../executor/index.js';
import type { SshConnection } from '../ssh/index.js';

export interface Guards {
  when?: string;
  creates?: string;
  unless?: string;
}

const WHY: Record<number, (g: Guards) => string> = {
  10: (g) => `when: ${g.when} is false`,
  11: (g) => `creates: ${g.creates} exists`,
  12: (g) => `unless: ${g.unless} is true`,
};

const hasConditions = (g: Guards) => g.when !== undefined || g.creates !== undefined || g.unless !== undefined;

/** Shell text that exits 10, 11 or 12 when the step is to be skipped, 0 when it runs; undefined without conditions. */
export function guardScript(g: Guards): string | undefined {
  if (!hasConditions(g)) return undefined;
  return [
    g.when !== undefined && `${inSubshell(g.when)} >/dev/null 2>&1 </dev/null || exit 10`,
    g.creates !== undefined && `if [ -e ${q(g.creates)} ]; then exit 11; fi`,
    g.unless !== undefined && `if ${inSubshell(g.unless)} >/dev/null 2>&1 </dev/null; then exit 12; fi`,
    'exit 0',
  ].filter(Boolean).join('\n');
}

/**
 * The same test as guardScript, for a shell that must live on: it sets the shell variable `var` to
 * 10, 11, 12 or 0 and never exits. A condition that is a plain built-in (`test -s FILE`) runs in that
 * shell itself; any other runs in a subshell, so nothing it does reaches the next step.
 */
export function guardInShell(g: Guards, v: string): string | undefined {
  if (!hasConditions(g)) return undefined;
  const quiet = '>/dev/null 2>&1 </dev/null';
  const tests = [
    g.when !== undefined && `! ${inShell(g.when)} ${quiet}; then ${v}=10`,
    g.creates !== undefined && `[ -e ${q(g.creates)} ]; then ${v}=11`,
    g.unless !== undefined && `${inShell(g.unless)} ${quiet}; then ${v}=12`,
  ].filter(Boolean);
  return `if ${tests.join('\nelif ')}\nelse ${v}=0; fi`;
}

/**
 * Shell text running `command` as `sh -c` would, without starting a shell: a subshell (a fork, no
 * exec) that parses it with eval, so a syntax error, `exit`, `cd` or a variable stay in there.
 */
export const inSubshell = (command: string) => `( eval ${q(command)} )`;

/**
 * A built-in that reads or prints and nothing else, words from a small safe set (no quotes,
 * expansions, globs or separators), at most one output redirection: it runs in the shell itself with
 * no process at all, and cannot end it or change what the next step sees. Not `:` (a special
 * built-in: a failed redirection would end the shell).
 */
const PLAIN_BUILTIN = /^(?:test|\[|echo|printf|true|false)(?: +[A-Za-z0-9_./@%+,:=!\]-]+)*(?: +2?>>? *[A-Za-z0-9_./@%+,:=-]+)? *$/;

/**
 * Words a command must not start with to run in the shell itself: reserved words and the built-ins
 * of dash, bash and busybox ash other than the few that only read or print (test, [, echo, printf,
 * true, false). Each of these can end the shell, change what the next step sees (cd, umask, set,
 * trap, read, a variable) or run text the check below has not seen (eval, ., command, exec).
 */
const SHELL_OWN = new Set([
  'if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'case', 'esac', 'while', 'until', 'for', 'in', 'function', 'select', 'time', '!', '{', '}', '[[', ']]',
  '.', ':', 'alias', 'bg', 'bind', 'break', 'builtin', 'caller', 'cd', 'chdir', 'command', 'compgen', 'complete', 'compopt', 'continue', 'declare',
  'dirs', 'disown', 'enable', 'eval', 'exec', 'exit', 'export', 'fc', 'fg', 'getopts', 'hash', 'help', 'history', 'jobs', 'kill', 'let', 'local',
  'logout', 'mapfile', 'popd', 'pushd', 'pwd', 'read', 'readarray', 'readonly', 'return', 'set', 'shift', 'shopt', 'source', 'suspend', 'times',
  'trap', 'type', 'typeset', 'ulimit', 'umask', 'unalias', 'unset', 'wait',
]);
const COMMAND_WORD = /^[A-Za-z0-9_./@%+,:-]+$/;
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
const REDIRECTION = /^([0-9]?)(>>|>&|<&|>|<)/;

/**
 * The words of `text` when it is a list (`;`, `&&`, `||`, newlines) of pipelines of simple commands
 * and nothing else: words of plain characters, single quotes, double quotes holding no expansion but
 * `$NAME`, `$NAME` itself; redirections to a file or a descriptor. Anything else (backslashes,
 * backquotes, `$(`, `${`, subshells, groups, here-documents, `&`, comments) gives undefined: the shell
 * would have to parse it to know what it does. Each command is a list of its words.
 */
function simpleCommands(text: string): string[][] | undefined {
  const commands: string[][] = [[]]; // the last one is being read (redirection targets are not its words)
  let afterOp = false; // the last token was |, && or || (a command must follow)
  const end = (sep: '\n' | ';' | 'op') => {
    const had = commands.at(-1)!.length > 0;
    // A newline ends a command, or is a line break after an operator (which still wants its command).
    if (sep === '\n') {
      if (had) commands.push([]);
      return true;
    }
    if (!had) return false; // `;`, `|`, `&&`, `||` need a command before them
    commands.push([]);
    afterOp = sep === 'op';
    return true;
  };
  let i = 0;
  const word = (): string | undefined => {
    let w = '';
    const start = i;
    while (i < text.length) {
      const c = text[i]!;
      if (' \t\n;&|<>'.includes(c)) break;
      if (c === "'") {
        const close = text.indexOf("'", i + 1);
        if (close < 0) return undefined;
        w += text.slice(i, close + 1);
        i = close + 1;
      } else if (c === '"') {
        let j = i + 1;
        for (; j < text.length && text[j] !== '"'; j++) {
          const d = text[j]!;
          if (d === '\\' || d === '`') return undefined;
          if (d === '$' && !/[A-Za-z_]/.test(text[j + 1] ?? '')) return undefined;
        }
        if (j >= text.length) return undefined;
        w += text.slice(i, j + 1);
        i = j + 1;
      } else if (c === '$') {
        if (!/[A-Za-z_]/.test(text[i + 1] ?? '')) return undefined;
        w += c;
        i++;
      } else {
        if ('\\`(){}'.includes(c) || c < ' ' || c === '\x7f' || (c === '#' && i === start)) return undefined;
        w += c;
        i++;
      }
    }
    return w || undefined;
  };
  let m: RegExpExecArray | null;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '\n' || c === ';') {
      if (text[i + 1] === ';' || (c === ';' && afterOp) || !end(c === ';' ? ';' : '\n')) return undefined;
      i++;
    } else if (text.startsWith('&&', i) || text.startsWith('||', i) || (c === '|' && text[i + 1] !== '&')) {
      if (!end('op')) return undefined;
      i += text[i + 1] === c ? 2 : 1;
    } else if ((m = REDIRECTION.exec(text.slice(i, i + 3)))) {
      i += m[0].length;
      if (text[i] === '|' || text[i] === '>' || text[i] === '<' || text[i] === '&') return undefined; // >|, <>, <<, >&&
      if (m[2].endsWith('&')) {
        const fd = /^(?:[0-9]|-)(?=[ \t\n;|&]|$)/.exec(text.slice(i));
        if (!fd) return undefined;
        i += fd[0].length;
      } else {
        while (text[i] === ' ' || text[i] === '\t') i++;
        if (word() === undefined) return undefined;
      }
      afterOp = false;
    } else if (c === '&') {
      return undefined; // a background job, or `&>`
    } else {
      const w = word();
      if (w === undefined) return undefined;
      commands.at(-1)!.push(w);
      afterOp = false;
    }
  }
  if (afterOp) return undefined;
  return commands.filter((c) => c.length);
}

/**
 * Whether `command` may run in the guest's shell itself rather than in a subshell, with the same
 * effect: a list of pipelines of simple commands (simpleCommands) whose command words are programs
 * or read-only built-ins, never a function of fleet's own. Such a command cannot break the shell's
 * syntax, end it or leave anything behind for the next step, and the shell starts its programs as
 * it would from a script (vfork and exec) instead of forking itself first. Assignments before a
 * program are allowed (they are for that program); an assignment alone is not.
 */
export function runsInShell(command: string): boolean {
  const commands = simpleCommands(command);
  if (!commands?.length) return false;
  return commands.every((words) => {
    const name = words.find((w) => !ASSIGNMENT.test(w));
    return name !== undefined && COMMAND_WORD.test(name) && !SHELL_OWN.has(name) && !name.startsWith('fleet_');
  });
}

/**
 * `command` as a group in the shell itself when it is a plain built-in or runs there with the same
 * effect (runsInShell: its programs started afresh from PATH, as a new shell would), else in a
 * subshell that parses it with eval.
 */
export function inShell(command: string): string {
  if (PLAIN_BUILTIN.test(command)) return `{ ${command}\n}`;
  return runsInShell(command) ? asProgramsInShell(command) : inSubshell(command);
}

/** A command that runsInShell, as a group of the shell itself: its programs looked up afresh on PATH, as a new shell would. */
export const asProgramsInShell = (command: string) => `{ hash -r 2>/dev/null; ${command}\n}`;

/**
 * Why the step is skipped, given the guard script's exit status, in the words of `written` (the
 * conditions as the playbook has them, so guests skipped alike fold together). Throws on a status
 * the guard script never gives (sudo refused it, the guest could not run it).
 */
export function skipWords(code: number | null, written: Guards, stderr = ''): string {
  const why = code !== null ? WHY[code] : undefined;
  if (why) return why(written);
  const said = stderr.trim().split('\n').at(-1);
  throw new Error(`could not test the step's conditions (exit status ${code ?? 'none: connection lost'})${said ? `: ${said}` : ''}`);
}

/**
 * Undefined when the step should run, else why it is skipped (see skipWords), tested with a guest
 * command of its own: for steps that do not run through the guest's shell.
 */
export async function skipReason(conn: SshConnection, g: Guards, written: Guards, sudo: boolean, timeoutMs?: number): Promise<string | undefined> {
  const script = guardScript(g);
  if (script === undefined) return undefined;
  const r = await conn.exec(sudo ? wrapSudo(script) : script, { timeoutMs });
  if (r.timedOut) throw new Error(`conditions still being tested after ${timeoutMs} ms; stopped`);
  if (r.exitCode === 0) return undefined;
  return skipWords(r.exitCode, written, r.stderr.toString());
}
