// Host selection like Ansible's --limit: groups, hosts, ranges, globs, `!exclusion`, `&intersection`.
import { InputError } from '../core/errors.js';
import { expandRanges, hasRange, splitOutsideBrackets } from './ranges.js';
import type { Host, Inventory } from './model.js';

/**
 * Hosts matching `pattern`, in inventory order, without duplicates. Terms are separated by `,` or `:`;
 * whatever order they are written in, unions apply first, then `&` intersections, then `!` exclusions
 * (Ansible's rule), and a pattern made only of `&`/`!` terms starts from `all`. A term is `all`/`*`, a
 * group, a host name or address, a glob (`web*`), a bracket range (`web[01-03]`) or `~regex`.
 * A term (or any name of a range) that matches nothing is an error: a typo must not silently shrink
 * or widen what a command touches.
 */
export function select(inv: Inventory, pattern: string): Host[] {
  const terms = splitPattern(inv, pattern);
  if (terms.length === 0) throw new InputError('empty host pattern');
  const union = terms.filter((t) => !t.startsWith('!') && !t.startsWith('&'));
  const intersect = terms.filter((t) => t.startsWith('&')).map((t) => t.slice(1));
  const exclude = terms.filter((t) => t.startsWith('!')).map((t) => t.slice(1));
  const index = new Matcher(inv);

  let chosen = new Set<string>(union.length === 0 ? inv.hosts.keys() : []);
  for (const t of union) for (const h of index.resolve(t)) chosen.add(h);
  for (const t of intersect) {
    const keep = index.resolve(t);
    chosen = new Set([...chosen].filter((h) => keep.has(h)));
  }
  for (const t of exclude) for (const h of index.resolve(t)) chosen.delete(h);
  return [...inv.hosts.values()].filter((h) => chosen.has(h.name));
}

/**
 * Split on `,` outside brackets (`guest[003,150]` is one term, as ClusterShell's nodesets write it),
 * then on `:` outside brackets, except a piece that is a known host (an IPv6 address).
 */
function splitPattern(inv: Inventory, pattern: string): string[] {
  const known = (piece: string) =>
    inv.hosts.has(piece) || [...inv.hosts.values()].some((h) => h.address === piece);
  const terms: string[] = [];
  for (const piece of splitOutsideBrackets(pattern, ',').map((p) => p.trim())) {
    if (piece.includes(':') && !known(piece.replace(/^[!&]/, ''))) terms.push(...splitOutsideBrackets(piece, ':').map((p) => p.trim()));
    else terms.push(piece);
  }
  return terms.filter((t) => t !== '');
}

class Matcher {
  private readonly all: Set<string>;
  private readonly byAddress = new Map<string, string[]>();

  constructor(private readonly inv: Inventory) {
    this.all = new Set(inv.hosts.keys());
    for (const h of inv.hosts.values()) {
      const list = this.byAddress.get(h.address) ?? [];
      list.push(h.name);
      this.byAddress.set(h.address, list);
    }
  }

  resolve(term: string): Set<string> {
    if (term === '') throw new InputError("empty term after '!' or '&' in host pattern");
    if (term === 'all' || term === '*') return this.all;
    if (term.startsWith('~')) return this.matching(term, toRegex(term.slice(1)));
    const out = new Set<string>();
    for (const word of hasRange(term) ? expandRanges(term) : [term]) {
      const found = /[*?]/.test(word) ? this.matching(word, globToRegex(word)) : this.exact(word);
      if (found.size === 0) throw new InputError(`no host or group matches '${word}'`);
      for (const h of found) out.add(h);
    }
    return out;
  }

  private exact(word: string): Set<string> {
    const out = new Set<string>(this.inv.groups.get(word));
    if (this.inv.hosts.has(word)) out.add(word);
    for (const h of this.byAddress.get(word) ?? []) out.add(h);
    return out;
  }

  private matching(term: string, re: RegExp): Set<string> {
    const out = new Set<string>();
    for (const [group, hosts] of this.inv.groups) if (re.test(group)) for (const h of hosts) out.add(h);
    for (const h of this.inv.hosts.values()) if (re.test(h.name) || re.test(h.address)) out.add(h.name);
    if (out.size === 0) throw new InputError(`no host or group matches '${term}'`);
    return out;
  }
}

function globToRegex(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** `~regex` is anchored at the start only, like Ansible's re.match. */
function toRegex(source: string): RegExp {
  try {
    return new RegExp(`^(?:${source})`);
  } catch (err) {
    throw new InputError(`bad regular expression '~${source}': ${(err as Error).message}`);
  }
}
