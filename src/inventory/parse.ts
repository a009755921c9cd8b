// Inventory text -> declarations: plain host lists and Ansible-style INI, told apart by section headers.
import { InputError } from '../core/errors.js';
import { addHosts } from './add-hosts.js';
import { GROUP_NAME, parseHostLine, parseVarsLine, tokenize } from './lines.js';
import { newDeclarations, type Declarations, type GroupDecl } from './model.js';
import { looksLikeYaml, parseYamlInventory } from './yaml.js';

export type InventoryFormat = 'ini' | 'plain' | 'yaml';

// Loose on purpose: `[bad name]` must reach the strict parser and fail, not turn the file into a host list.
const HEADER_LIKE = /^\s*\[[^\]]*\]\s*(?:[#;].*)?$/;
const HEADER = /^\[([^:\]\s]+)(?::([^\]\s]*))?\]\s*(?:[#;].*)?$/;

/**
 * YAML by extension (.yml, .yaml, .json) or when the first line is `---` or a `name:` key; else INI as
 * soon as one line is a `[section]` header (a bare range like `10.0.0.[1-3]` is not one); else a list.
 */
export function detectFormat(text: string, file = ''): InventoryFormat {
  if (/\.(ya?ml|json)$/i.test(file) || looksLikeYaml(text)) return 'yaml';
  return splitLines(text).some((l) => HEADER_LIKE.test(l)) ? 'ini' : 'plain';
}

/** Parse any format into declarations (groups not yet resolved). */
export function parseDeclarations(text: string, file: string): Declarations {
  const format = detectFormat(text, file);
  if (format === 'yaml') return parseYamlInventory(text, file);
  const decl = newDeclarations(file);
  const lines = splitLines(text);
  if (format === 'ini') parseIni(lines, decl);
  else parsePlain(lines, decl);
  return decl;
}

function splitLines(text: string): string[] {
  return text.replace(/^\uFEFF/, '').split(/\r?\n/);
}

function isComment(trimmed: string): boolean {
  return trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';');
}

function parsePlain(lines: string[], decl: Declarations): void {
  lines.forEach((text, i) => {
    if (isComment(text.trim())) return;
    const parsed = parseHostLine(text, { file: decl.file, line: i + 1 });
    if (parsed) addHosts(decl, parsed, i + 1, undefined);
  });
}

type Section = { kind: 'hosts' | 'children' | 'vars'; group?: GroupDecl };

function parseIni(lines: string[], decl: Declarations): void {
  // Hosts above the first header belong to no group, so they end up in `ungrouped` as in Ansible.
  let section: Section = { kind: 'hosts' };
  lines.forEach((raw, i) => {
    const line = i + 1;
    const where = { file: decl.file, line };
    const text = raw.trim();
    if (isComment(text)) return;
    if (text.startsWith('[') && HEADER_LIKE.test(text)) {
      section = parseHeader(text, decl, line);
      return;
    }
    if (section.kind === 'hosts') {
      const parsed = parseHostLine(text, where);
      if (parsed) addHosts(decl, parsed, line, section.group);
    } else if (section.kind === 'children') {
      const words = tokenize(text, where);
      if (words.length !== 1 || !GROUP_NAME.test(words[0])) {
        throw new InputError(`bad child group '${text}': expected one group name`, where);
      }
      section.group!.children.push({ name: words[0], line });
    } else {
      const [key, value] = parseVarsLine(text, where);
      section.group!.vars.set(key, { value, line });
    }
  });
}

function parseHeader(text: string, decl: Declarations, line: number): Section {
  const where = { file: decl.file, line };
  const m = HEADER.exec(text);
  if (!m || !GROUP_NAME.test(m[1])) throw new InputError(`malformed section header '${text}'`, where);
  const [, name, suffix] = m;
  if (suffix !== undefined && suffix !== 'children' && suffix !== 'vars') {
    throw new InputError(`unknown section suffix ':${suffix}' in '${text}' (expected :children or :vars)`, where);
  }
  const kind = suffix ?? 'hosts';
  let group = decl.groups.get(name);
  if (!group) {
    group = { name, line, defined: false, hosts: new Set(), children: [], vars: new Map() };
    decl.groups.set(name, group);
  }
  // `[g:vars]` alone does not define g; whether g exists is checked once the whole file is read.
  if (kind !== 'vars' && !group.defined) {
    group.defined = true;
    group.line = line;
  }
  return { kind, group };
}
