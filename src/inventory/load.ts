// Reading an inventory from disk: a file, or a directory holding `hosts` or `inventory`.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../core/errors.js';
import { buildInventory } from './build.js';
import { parseDeclarations } from './parse.js';
import type { Inventory } from './model.js';

/** The file names looked for, in order, when the inventory path is a directory. */
export const INVENTORY_FILES = ['hosts', 'inventory'] as const;

/** Parse inventory text (either format); `file` only labels error messages. */
export function parseInventory(text: string, file = '<inventory>'): Inventory {
  return buildInventory(parseDeclarations(text, file));
}

/** Load and parse an inventory file, or the `hosts`/`inventory` file inside a directory. */
export async function loadInventory(path: string): Promise<Inventory> {
  const file = await resolveInventoryFile(path);
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    throw new InputError(`cannot read inventory: ${(err as Error).message}`, { file });
  }
  if (data.includes(0)) throw new InputError('not a text file', { file });
  return parseInventory(data.toString('utf8'), file);
}

async function resolveInventoryFile(path: string): Promise<string> {
  const info = await stat(path).catch((err: Error) => {
    throw new InputError(`cannot read inventory: ${err.message}`, { file: path });
  });
  if (!info.isDirectory()) return path;
  for (const name of INVENTORY_FILES) {
    const candidate = join(path, name);
    const found = await stat(candidate).then((s) => s.isFile(), () => false);
    if (found) return candidate;
  }
  throw new InputError(`no inventory file in directory (looked for ${INVENTORY_FILES.join(', ')})`, { file: path });
}
