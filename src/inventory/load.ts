// Reading an inventory from disk: one file, or a directory whose inventory files are merged (as
// Ansible does), plus the group_vars/ and host_vars/ beside it.
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InputError } from '../core/errors.js';
import { buildInventory } from './build.js';
import type { Declarations, Inventory, VarDef } from './model.js';
import { parseDeclarations } from './parse.js';
import { loadVarsFiles } from './vars-files.js';

/** The file names looked for first when the inventory path is a directory (then every other file). */
export const INVENTORY_FILES = ['hosts', 'inventory'] as const;

// What Ansible skips in an inventory directory (INVENTORY_IGNORE_EXTS), plus what fleet keeps beside
// an inventory: known_hosts, its rotation journals and locks, keys, logs.
const IGNORED_EXTS = ['.pyc', '.pyo', '.swp', '.bak', '~', '.rpm', '.md', '.txt', '.rst', '.orig', '.ini', '.cfg', '.retry',
  '.jsonl', '.lock', '.log', '.pid', '.pub', '.sock'];
const IGNORED_NAME = /^(known_hosts|id_[a-z0-9]+$|ansible\.cfg$|\.)/;

/** Parse inventory text (any format); `file` labels error messages and decides YAML by its extension. */
export function parseInventory(text: string, file = '<inventory>'): Inventory {
  return buildInventory(parseDeclarations(text, file));
}

/** Load an inventory file or directory, with group_vars/ and host_vars/ beside it. */
export async function loadInventory(path: string): Promise<Inventory> {
  const info = await stat(path).catch((err: Error) => {
    throw new InputError(`cannot read inventory: ${err.message}`, { file: path });
  });
  const files = info.isDirectory() ? await inventoryFiles(path) : [path];
  const decls: Declarations[] = [];
  for (const file of files) decls.push(parseDeclarations(await readText(file), file));
  const decl = decls.length === 1 ? decls[0] : mergeDeclarations(decls);
  await loadVarsFiles(decl, info.isDirectory() ? path : dirname(path));
  return buildInventory(decl);
}

async function readText(file: string): Promise<string> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    throw new InputError(`cannot read inventory: ${(err as Error).message}`, { file });
  }
  if (data.includes(0)) throw new InputError('not a text file', { file });
  return data.toString('utf8');
}

/** The inventory files of a directory: `hosts`, `inventory`, then the others in name order. */
async function inventoryFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isFile() || e.isSymbolicLink())
    .map((e) => e.name)
    .filter((n) => !IGNORED_NAME.test(n) && !IGNORED_EXTS.some((x) => n.endsWith(x)))
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const files: string[] = [];
  for (const n of names) {
    const path = join(dir, n);
    if (await stat(path).then((s) => s.isFile(), () => false)) files.push(path);
  }
  if (files.length === 0) throw new InputError(`no inventory file in directory (looked for ${INVENTORY_FILES.join(', ')} and other inventory files)`, { file: dir });
  return files;
}

const rank = (name: string) => {
  const i = (INVENTORY_FILES as readonly string[]).indexOf(name);
  return i < 0 ? INVENTORY_FILES.length : i;
};

/**
 * Several files' declarations as one: groups and hosts united, a later file's vars winning (Ansible
 * reads the files of a directory in turn). Every var, group and child keeps the file it came from.
 */
function mergeDeclarations(decls: Declarations[]): Declarations {
  const out = decls[0];
  stamp(out);
  for (const d of decls.slice(1)) {
    stamp(d);
    for (const [name, h] of d.hosts) {
      const host = out.hosts.get(name);
      if (!host) out.hosts.set(name, h);
      else for (const [k, v] of h.vars) host.vars.set(k, v);
    }
    for (const [name, g] of d.groups) {
      const group = out.groups.get(name);
      if (!group) {
        out.groups.set(name, g);
        continue;
      }
      if (g.defined && !group.defined) Object.assign(group, { defined: true, line: g.line, file: g.file });
      for (const h of g.hosts) group.hosts.add(h);
      group.children.push(...g.children);
      for (const [k, v] of g.vars) group.vars.set(k, v);
    }
  }
  return out;
}

function stamp(d: Declarations): void {
  const mark = (vars: Map<string, VarDef>) => {
    for (const [k, v] of vars) if (!v.file) vars.set(k, { ...v, file: d.file });
  };
  for (const h of d.hosts.values()) mark(h.vars);
  for (const g of d.groups.values()) {
    g.file ??= d.file;
    mark(g.vars);
    for (const c of g.children) c.file ??= d.file;
  }
}
