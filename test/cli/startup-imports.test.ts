// What every `fleet` command loads before it runs: the modules src/cli/main.ts reaches through static
// imports (dynamic `import()` is lazy and not followed). Heavy packages that only some commands need
// must stay out of it: each costs CPU at every start, on every guest run from a script.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = join(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Packages reached from `entry` by static value imports, each with one chain of files leading to it. */
function staticPackages(entry: string): Map<string, string[]> {
  const via = new Map<string, string | undefined>([[entry, undefined]]);
  const packages = new Map<string, string[]>();
  const queue = [entry];
  const chain = (f: string) => {
    const out: string[] = [];
    for (let x: string | undefined = f; x; x = via.get(x)) out.unshift(x.slice(src.length + 1));
    return out;
  };
  while (queue.length) {
    const file = queue.shift()!;
    const text = readFileSync(file, 'utf8');
    // `import x from`, `import { a } from`, `export { a } from`, `import 'x'`; not `import type`.
    for (const m of text.matchAll(/^(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) {
      const spec = m[1];
      if (!spec.startsWith('.')) {
        const name = spec.startsWith('node:') ? spec : spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
        if (!packages.has(name)) packages.set(name, chain(file));
        continue;
      }
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (!existsSync(target) || via.has(target)) continue;
      via.set(target, file);
      queue.push(target);
    }
  }
  return packages;
}

describe('start-up of the fleet command', () => {
  it('does not load the cron parser (only cron commands need it)', () => {
    const packages = staticPackages(join(src, 'cli/main.ts'));
    expect(packages.has('commander')).toBe(true); // the walk does see packages
    expect(packages.get('cron-parser')).toBeUndefined();
  });
});
