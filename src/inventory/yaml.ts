// Ansible YAML inventories (`all:` / `children:` / `hosts:` / `vars:`) -> declarations, positions kept,
// and the YAML var files of group_vars/ and host_vars/.
import { createRequire } from 'node:module';
import type { Node, Pair, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import { InputError } from '../core/errors.js';
import { addHosts } from './add-hosts.js';
import { GROUP_NAME, parseHostLine } from './lines.js';
import { newDeclarations, type Declarations, type GroupDecl, type VarDef } from './model.js';

// The yaml package is loaded on first use (its CommonJS build, synchronously): most inventories are
// plain host lists, and loading it costs a run more CPU than reading them.
type YamlLib = typeof import('yaml');
let yamlLib: YamlLib | undefined;
const yaml = (): YamlLib => (yamlLib ??= createRequire(import.meta.url)('yaml') as YamlLib);
const isMap = (n: unknown): n is YAMLMap => yaml().isMap(n);
const isScalar = (n: unknown): n is Scalar => yaml().isScalar(n);
const isSeq = (n: unknown): n is YAMLSeq => yaml().isSeq(n);

const GROUP_KEYS = new Set(['hosts', 'vars', 'children']);

/** One YAML file: the parsed document and a way to turn offsets into line:column. */
class YamlSource {
  private readonly counter = new (yaml().LineCounter)();
  readonly root: Node | null;

  constructor(readonly file: string, text: string) {
    // YAML 1.1 as Ansible's PyYAML reads it: `yes`/`no` are booleans, `0644` is octal. A key given twice
    // keeps the last value, as PyYAML does (and the yaml package's duplicate check is quadratic).
    const doc = yaml().parseDocument(text, { lineCounter: this.counter, uniqueKeys: false, prettyErrors: false, version: '1.1' });
    const err = doc.errors[0];
    if (err) {
      const pos = this.counter.linePos(err.pos[0]);
      throw new InputError(`malformed YAML: ${err.message.split('\n')[0]}`, { file, line: pos.line, column: pos.col });
    }
    this.root = doc.contents as Node | null;
  }

  where(node: Node | null | undefined): { file: string; line: number; column: number } {
    const p = this.counter.linePos(node?.range?.[0] ?? 0);
    return { file: this.file, line: p.line, column: p.col };
  }

  fail(message: string, node: Node | null | undefined): never {
    throw new InputError(message, this.where(node));
  }

  /** A mapping's pairs with string keys; null (an empty `hosts:`) is an empty mapping. */
  pairs(node: Node | null | undefined, what: string): Array<{ key: string; keyNode: Node; value: Node | null }> {
    if (node == null || (isScalar(node) && node.value === null)) return [];
    if (!isMap(node)) this.fail(`${what} must be a mapping`, node);
    return node.items.map((p: Pair) => {
      const keyNode = p.key as Node;
      if (!isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === 'object') this.fail(`${what}: keys must be names`, keyNode);
      return { key: String(keyNode.value), keyNode, value: (p.value as Node | null) ?? null };
    });
  }

  /** `key: value` vars; values other than text become their YAML/JSON text, so none is lost. */
  vars(node: Node | null | undefined, what: string): Map<string, VarDef> {
    const out = new Map<string, VarDef>();
    for (const { key, keyNode, value } of this.pairs(node, what)) {
      out.set(key, { value: scalarText(value), line: this.where(keyNode).line, file: this.file });
    }
    return out;
  }
}

function scalarText(node: Node | null): string {
  if (node == null) return '';
  if (isScalar(node)) return node.value === null ? '' : String(node.value);
  return JSON.stringify(node.toJSON());
}

/** True when the text reads as YAML rather than INI or a host list: `---` or a `name:` line first. */
export function looksLikeYaml(text: string): boolean {
  for (const raw of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) continue;
    return t === '---' || t.startsWith('--- ') || /^[A-Za-z0-9_.-]+:\s*(?:[#{].*)?$/.test(t);
  }
  return false;
}

/** Parse an Ansible YAML inventory: top-level keys are groups (usually `all`), each with hosts/vars/children. */
export function parseYamlInventory(text: string, file: string): Declarations {
  const src = new YamlSource(file, text);
  const decl = newDeclarations(file);
  for (const { key, keyNode, value } of src.pairs(src.root, 'the inventory')) parseGroup(src, decl, key, keyNode, value);
  return decl;
}

function parseGroup(src: YamlSource, decl: Declarations, name: string, keyNode: Node, body: Node | null): GroupDecl {
  const line = src.where(keyNode).line;
  if (!GROUP_NAME.test(name)) src.fail(`invalid group name '${name}'`, keyNode);
  let group = decl.groups.get(name);
  if (!group) {
    group = { name, line, defined: true, hosts: new Set(), children: [], vars: new Map() };
    decl.groups.set(name, group);
  }
  for (const { key, keyNode: k, value } of src.pairs(body, `group '${name}'`)) {
    if (!GROUP_KEYS.has(key)) src.fail(`group '${name}': unknown key '${key}' (expected hosts, vars or children)`, k);
    if (key === 'vars') for (const [v, def] of src.vars(value, `vars of group '${name}'`)) group.vars.set(v, def);
    else if (key === 'children') {
      for (const child of src.pairs(value, `children of group '${name}'`)) {
        if (child.key === 'all') src.fail(`children of group '${name}' cannot contain 'all'`, child.keyNode);
        parseGroup(src, decl, child.key, child.keyNode, child.value);
        group.children.push({ name: child.key, line: src.where(child.keyNode).line });
      }
    } else {
      if (isSeq(value)) src.fail(`hosts of group '${name}' must be a mapping of host names (\`web1:\`), not a list`, value);
      for (const h of src.pairs(value, `hosts of group '${name}'`)) {
        const where = src.where(h.keyNode);
        // Ansible's range syntax and `name:port` as in INI host words; YAML keys cannot hold spaces here.
        if (/\s/.test(h.key)) src.fail(`invalid host name '${h.key}'`, h.keyNode);
        const parsed = parseHostLine(h.key, where)!;
        for (const [v, def] of src.vars(h.value, `vars of host '${h.key}'`)) parsed.vars.set(v, def);
        addHosts(decl, parsed, where.line, group === decl.groups.get('all') ? undefined : group);
      }
    }
  }
  return group;
}

/** A group_vars/ or host_vars/ file: a YAML mapping of vars (empty or comments only: none). */
export function parseVarsFile(text: string, file: string): Map<string, VarDef> {
  const src = new YamlSource(file, text);
  return src.vars(src.root, 'a vars file');
}
