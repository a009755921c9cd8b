// Hosts into declarations, for every inventory format: a host listed again may add vars, not move.
import { InputError } from '../core/errors.js';
import type { HostLine } from './lines.js';
import type { Declarations, GroupDecl, HostDecl } from './model.js';

// The vars that say where a host is: each set of aliases names one setting.
const WHERE_VARS = [['ansible_host', 'ansible_ssh_host'], ['ansible_port', 'ansible_ssh_port']];

/** Records each host of a parsed line (with its vars) in the declarations, and in the group when there is one. */
export function addHosts(decl: Declarations, parsed: HostLine, line: number, group: GroupDecl | undefined): void {
  for (const name of parsed.names) {
    let host = decl.hosts.get(name);
    if (!host) {
      host = { name, line, vars: new Map() };
      decl.hosts.set(name, host);
    } else {
      checkSamePlace(decl.file, host, parsed, line);
    }
    // A host listed twice keeps its first position; later vars win, as in Ansible.
    for (const [k, v] of parsed.vars) host.vars.set(k, v);
    group?.hosts.add(name);
  }
}

/**
 * A host listed again (in another group, say) may add vars, but not move: two addresses or ports for
 * one name is two machines under one name, and which one a run would reach depends on line order.
 */
function checkSamePlace(file: string, host: HostDecl, parsed: HostLine, line: number): void {
  for (const aliases of WHERE_VARS) {
    const before = aliases.map((k) => [k, host.vars.get(k)] as const).find(([, v]) => v !== undefined);
    const now = aliases.map((k) => [k, parsed.vars.get(k)] as const).find(([, v]) => v !== undefined);
    if (!before || !now || before[1]!.value === now[1]!.value) continue;
    throw new InputError(
      `host '${host.name}' is declared again with ${now[0]}=${now[1]!.value}, but ${file}:${before[1]!.line} ` +
        `gives it ${before[0]}=${before[1]!.value}: one name, two places (give the second its own name, or the same value)`,
      { file, line },
    );
  }
}
