// Strict `{{ name }}` substitution: a name is a variable (host, address, index, inventory and playbook
// vars, -e) or a registered value (`NAME.stdout`, `NAME.stderr`, `NAME.exitCode`). A name that is not
// defined is an error, never an empty string. Pure.

/** One `{{ ... }}` in a text: where it starts (offset into the text) and what it names. */
export interface Reference {
  offset: number;
  /** The whole `{{ ... }}`. */
  raw: string;
  /** `port`, or `check.stdout` for a registered value; undefined when the expression is not a name. */
  name?: string;
}

export const REGISTERED_FIELDS = ['stdout', 'stderr', 'exitCode'] as const;

const EXPR = /\{\{(.*?)\}\}/gs;
const NAME = /^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.(?:stdout|stderr|exitCode))?)\s*$/;

export function references(text: string): Reference[] {
  const refs: Reference[] = [];
  for (const m of text.matchAll(EXPR)) {
    const name = NAME.exec(m[1]!)?.[1];
    refs.push({ offset: m.index!, raw: m[0], ...(name ? { name } : {}) });
  }
  return refs;
}

/** Values of a registered step on one guest. */
export interface Registered {
  stdout: string;
  stderr: string;
  exitCode: number | null;
}

export interface Scope {
  vars: Record<string, string>;
  registered: Record<string, Registered>;
}

export class RenderError extends Error {}

/** The text with every `{{ name }}` replaced; throws a RenderError naming what is undefined. */
export function render(text: string, scope: Scope): string {
  return text.replace(EXPR, (raw, inner: string) => {
    const name = NAME.exec(inner)?.[1];
    if (!name) throw new RenderError(`${raw} is not a variable name (only {{ name }} and {{ NAME.stdout }}-style values are supported)`);
    const [base, field] = name.split('.') as [string, keyof Registered | undefined];
    if (field) {
      const r = scope.registered[base];
      if (!r) throw new RenderError(`{{ ${name} }}: step registering ${base} did not run on this guest`);
      return String(r[field] ?? '');
    }
    const v = scope.vars[base];
    if (v === undefined) throw new RenderError(`undefined variable {{ ${base} }}`);
    return v;
  });
}
