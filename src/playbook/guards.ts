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
 * A simple command of plain words (`uname -r`, `mkdir -p /srv/app`, `date >> /var/log/x`), not a
 * reserved word: it cannot break the shell's syntax, so it goes in a subshell as it is, which execs
 * it (dash forks again for a command that eval runs).
 */
const PLAIN_COMMAND = new RegExp(
  '^(?!(?:if|then|else|elif|fi|do|done|case|esac|while|until|for|in)(?: |$))[A-Za-z0-9_./@%+,:=-][A-Za-z0-9_./@%+,:=!\\]-]*' +
  '(?: +[A-Za-z0-9_./@%+,:=!\\]-]+)*(?: +[0-2]?(?:>>?|<) *[A-Za-z0-9_./@%+,:=-]+)* *$');

/** `command` as a group in the shell itself when it is a plain built-in, else in a subshell. */
export function inShell(command: string): string {
  if (PLAIN_BUILTIN.test(command)) return `{ ${command}\n}`;
  return PLAIN_COMMAND.test(command) ? `( ${command} )` : inSubshell(command);
}

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
