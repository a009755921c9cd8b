// A step's conditions on the guest (`when`, `creates`, `unless`), tested in one guest process before
// the step runs, in the same guest command as the step itself where it can. They only read, so they
// run in --check mode too.
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

/** Shell text that exits 10, 11 or 12 when the step is to be skipped, 0 when it runs; undefined without conditions. */
export function guardScript(g: Guards): string | undefined {
  if (g.when === undefined && g.creates === undefined && g.unless === undefined) return undefined;
  return [
    g.when !== undefined && `sh -c ${q(g.when)} >/dev/null 2>&1 </dev/null || exit 10`,
    g.creates !== undefined && `if [ -e ${q(g.creates)} ]; then exit 11; fi`,
    g.unless !== undefined && `if sh -c ${q(g.unless)} >/dev/null 2>&1 </dev/null; then exit 12; fi`,
    'exit 0',
  ].filter(Boolean).join('\n');
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
