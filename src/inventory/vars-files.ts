// group_vars/ and host_vars/ beside an inventory, as Ansible reads them: files NAME, NAME.yml,
// NAME.yaml, NAME.json, or a directory NAME/ of such files, merged in name order.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../core/errors.js';
import type { Declarations, VarDef } from './model.js';
import { parseVarsFile } from './yaml.js';

const VAR_EXTS = ['', '.yml', '.yaml', '.json'];

/** Load `<dir>/group_vars` and `<dir>/host_vars` into the declarations' file-var layers. */
export async function loadVarsFiles(decl: Declarations, dir: string): Promise<void> {
  await loadInto(join(dir, 'group_vars'), new Set(decl.groups.keys()), decl.groupFileVars);
  await loadInto(join(dir, 'host_vars'), new Set(decl.hosts.keys()), decl.hostFileVars);
}

async function loadInto(dir: string, names: Set<string>, into: Map<string, Map<string, VarDef>>): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  // A name may have several files (web, web.yml): all are read, in name order, later ones winning.
  const sorted = entries.filter((e) => !e.name.startsWith('.')).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of sorted) {
    const ext = VAR_EXTS.find((x) => x !== '' && e.name.endsWith(x)) ?? '';
    const name = e.name.slice(0, e.name.length - ext.length);
    if (!names.has(name)) continue;
    const path = join(dir, e.name);
    const isDir = e.isDirectory() || (e.isSymbolicLink() && (await stat(path)).isDirectory());
    const files = isDir ? await filesUnder(path) : [path];
    const vars = into.get(name) ?? new Map<string, VarDef>();
    for (const f of files) for (const [k, v] of await readVars(f)) vars.set(k, v);
    into.set(name, vars);
  }
}

/** Files of a group_vars/NAME/ directory, recursively, in name order (hidden and non-YAML skipped). */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(path)));
    else if (VAR_EXTS.some((x) => x === '' ? !e.name.includes('.') : e.name.endsWith(x))) out.push(path);
  }
  return out;
}

async function readVars(file: string): Promise<Map<string, VarDef>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read vars file: ${(err as Error).message}`, { file });
  }
  if (text.startsWith('$ANSIBLE_VAULT')) throw new InputError('an Ansible Vault file: fleet cannot decrypt it; move connection vars out of the vault', { file });
  return parseVarsFile(text, file);
}
