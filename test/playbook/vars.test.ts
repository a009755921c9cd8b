// Variables: strict rendering and the check, before connecting, that every name is defined.
import { describe, expect, it } from 'vitest';
import { checkVariables, formatIssue, guestScope, parsePlaybook, render, RenderError } from '../../src/playbook/index.js';

const pb = (text: string) => {
  const r = parsePlaybook(text, 'pb.yaml');
  expect(r.issues.map(formatIssue)).toEqual([]);
  return r.playbook!;
};
const guests = [
  { host: 'web1', address: '10.0.0.1', inventory: { role: 'web', dc: 'a' } },
  { host: 'web2', address: '10.0.0.2', inventory: { role: 'web' } },
];

describe('render', () => {
  it('substitutes variables and registered values', () => {
    const scope = { vars: { host: 'web1', port: '80' }, registered: { v: { stdout: '1.2\n', stderr: '', exitCode: 0 } } };
    expect(render('{{host}}:{{ port }} v={{ v.stdout }} rc={{ v.exitCode }}', scope)).toBe('web1:80 v=1.2\n rc=0');
  });

  it('refuses an undefined name instead of an empty string', () => {
    expect(() => render('x={{ nope }}', { vars: {}, registered: {} })).toThrow(RenderError);
    expect(() => render('x={{ nope }}', { vars: {}, registered: {} })).toThrow('undefined variable {{ nope }}');
    expect(() => render('{{ a | upper }}', { vars: { a: 'x' }, registered: {} })).toThrow('is not a variable name');
  });
});

describe('checkVariables', () => {
  const check = (text: string, extra: Record<string, string> = {}) => {
    const p = pb(text);
    return checkVariables(p, guests.map((g) => g.host), guests.map((g, i) => guestScope(g, i + 1, p, extra))).map(formatIssue);
  };

  it('accepts builtins, inventory vars, playbook vars, -e and registered values', () => {
    expect(check('vars: {port: 80}\nsteps:\n  - run: echo {{ host }} {{ address }} {{ index }} {{ role }} {{ port }} {{ x }}\n    register: out\n  - run: echo {{ out.stdout }} {{ out.exitCode }}\n', { x: '1' })).toEqual([]);
  });

  it('names file:line:column of an undefined variable, with the nearest name', () => {
    expect(check('vars: {port: 80}\nsteps:\n  - run: echo {{ prot }}\n')).toEqual([
      "pb.yaml:3:15: undefined variable {{ prot }} (did you mean 'port'?); define it in vars:, the inventory or with -e prot=VALUE",
    ]);
  });

  it('says which guests lack an inventory variable', () => {
    expect(check('steps:\n  - push:\n      content: "dc={{ dc }}\\n"\n      dest: /tmp/dc\n')).toEqual([
      'pb.yaml:3:20: undefined variable {{ dc }} for web2 (1 of 2 guests); define it in vars:, the inventory or with -e dc=VALUE',
    ]);
  });

  it('a registered value must come from an earlier step', () => {
    expect(check('steps:\n  - run: echo {{ out.stdout }}\n  - run: date\n    register: out\n  - run: echo {{ out }}\n')).toEqual([
      'pb.yaml:2:15: {{ out.stdout }}: no earlier step has register: out',
      'pb.yaml:5:15: {{ out }} is a registered step result: use {{ out.stdout }}, {{ out.stderr }} or {{ out.exitCode }}',
    ]);
  });
});
