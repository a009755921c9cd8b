// Public face of the inventory: load and parse inventories, select hosts, fold and expand host ranges.
export type { Host, Inventory } from './model.js';
export { loadInventory, parseInventory, INVENTORY_FILES } from './load.js';
export { detectFormat, type InventoryFormat } from './parse.js';
export { select } from './select.js';
export { foldHosts, expandFolded, naturalCompare } from './nodeset.js';
export { expandRanges, MAX_EXPANSION } from './ranges.js';
