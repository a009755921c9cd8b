// A step's conditions on the guest (`when`, `creates`, `unless`), tested in one guest process before
// the step runs. They only read, so they run in --check mode too.
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

/**
 * Undefined when the step should run, else why it is skipped, in the words of `written` (the
 * conditions as the playbook has them, so guests skipped alike fold together). Throws when the
 * guest cannot answer.
 */
export async function skipReason(conn: SshConnection, g: Guards, written: Guards, sudo: boolean, timeoutMs?: number): Promise<string | undefined> {
  if (g.when === undefined && g.creates === undefined && g.unless === undefined) return undefined;
  const script = [
    g.when !== undefined && `sh -c ${q(g.when)} >/dev/null 2>&1 </dev/null || exit 10`,
    g.creates !== undefined && `if [ -e ${q(g.creates)} ]; then exit 11; fi`,
    g.unless !== undefined && `if sh -c ${q(g.unless)} >/dev/null 2>&1 </dev/null; then exit 12; fi`,
    'exit 0',
  ].filter(Boolean).join('\n');
  const r = await conn.exec(sudo ? wrapSudo(script) : script, { timeoutMs });
  if (r.timedOut) throw new Error(`conditions still being tested after ${timeoutMs} ms; stopped`);
  if (r.exitCode === 0) return undefined;
  const why = r.exitCode !== null ? WHY[r.exitCode] : undefined;
  if (why) return why(written);
  const said = r.stderr.toString().trim().split('\n').at(-1);
  throw new Error(`could not test the step's conditions (exit status ${r.exitCode ?? r.signal ?? 'none: connection lost'})${said ? `: ${said}` : ''}`);
}
