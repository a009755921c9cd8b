// Variables per guest and the check, before anything connects, that every `{{ name }}` a step uses
// is defined for every selected guest (or registered by an earlier step). Pure.
import { foldHosts } from '../inventory/index.js';
import { hint } from './hint.js';
import type { Playbook, PlaybookIssue, Step, Text } from './model.js';
import { references } from './template.js';

/** What describes the guest itself; set by fleet, not overridable. */
export const BUILTIN_VARS = ['host', 'address', 'index'] as const;

export interface GuestVars {
  host: string;
  address: string;
  /** Inventory variables of the guest (group and host vars merged). */
  inventory: Record<string, string>;
}

/**
 * One guest's variables, lowest first: inventory vars, playbook `vars`, `-e` extra vars, then what
 * describes the guest (host, address, index: its 1-based place in the inventory).
 */
export function guestScope(g: GuestVars, index: number, pb: Playbook, extra: Record<string, string>): Record<string, string> {
  return { ...g.inventory, ...pb.vars, ...extra, host: g.host, address: g.address, index: String(index) };
}

/** The texts of a step that are rendered per guest, in the order the runner uses them. */
export function stepTexts(s: Step): Text[] {
  const a = s.action;
  const own = a.kind === 'run' ? [a.command] : a.kind === 'push' || a.kind === 'template' ? [a.dest, a.content, a.owner, a.validate] : [];
  return [s.when, s.unless, s.creates, ...own].filter((t): t is Text => t !== undefined);
}

/** Every `{{ ... }}` that is not defined for some selected guest; `scopes` in selection order. */
export function checkVariables(pb: Playbook, hosts: string[], scopes: Record<string, string>[]): PlaybookIssue[] {
  const issues: PlaybookIssue[] = [];
  const registered = new Set<string>();
  const allNames = [...new Set(scopes.flatMap((s) => Object.keys(s)))];
  for (const step of pb.steps) {
    for (const text of stepTexts(step)) {
      const seen = new Map<string, number>();
      for (const ref of references(text.value)) {
        const nth = seen.get(ref.raw) ?? 0;
        seen.set(ref.raw, nth + 1);
        const at = text.where(ref.raw, nth);
        if (!ref.name) {
          issues.push({ ...at, message: `${ref.raw} is not a variable name (write {{ name }} or {{ NAME.stdout }})` });
          continue;
        }
        const [base, field] = ref.name.split('.') as [string, string | undefined];
        if (field) {
          if (!registered.has(base)) issues.push({ ...at, message: `{{ ${ref.name} }}: no earlier step has register: ${base}${hint(base, [...registered])}` });
          continue;
        }
        const lacking = hosts.filter((_, i) => scopes[i]![base] === undefined);
        if (lacking.length === 0) continue;
        if (registered.has(base)) {
          issues.push({ ...at, message: `{{ ${base} }} is a registered step result: use {{ ${base}.stdout }}, {{ ${base}.stderr }} or {{ ${base}.exitCode }}` });
        } else if (lacking.length === hosts.length) {
          issues.push({ ...at, message: `undefined variable {{ ${base} }}${hint(base, [...allNames, ...registered], false)}; define it in vars:, the inventory or with -e ${base}=VALUE` });
        } else {
          issues.push({ ...at, message: `undefined variable {{ ${base} }} for ${foldHosts(lacking)} (${lacking.length} of ${hosts.length} guests); define it in vars:, the inventory or with -e ${base}=VALUE` });
        }
      }
    }
    if (step.register) registered.add(step.register);
  }
  return issues;
}
