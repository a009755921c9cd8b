// `fleet inventory [sel]`: the expansion of a selection, folded, or every host as JSON.
import { foldHosts, loadInventory, select } from '../../inventory/index.js';

export async function inventory(selection: string | undefined, f: { inventory: string; limit?: string; json?: boolean }): Promise<void> {
  const inv = await loadInventory(f.inventory);
  const hosts = select(inv, selection ?? f.limit ?? 'all');
  if (f.json) {
    for (const h of hosts) process.stdout.write(`${JSON.stringify(h)}\n`);
    return;
  }
  process.stdout.write(`${foldHosts(hosts.map((h) => h.name))} (${hosts.length} hosts)\n`);
}
