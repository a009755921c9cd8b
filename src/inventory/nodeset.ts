// Folding host names into ranges (`127.77.0.[1-5,7]`, `web[01-03].example.org`) and back, like ClusterShell's nodeset.
import { InputError } from '../core/errors.js';
import { expandRanges, splitOutsideBrackets } from './ranges.js';

/**
 * Fold names into a compact, comma-separated range expression. Names differing in one run of digits
 * share one bracket: for each name, the run along which most names vary (`web[001-120].dc1.example.org`
 * varies in its first run, an IPv4 address in its last octet; on a tie, the last run). Zero padding
 * is kept (`01` and `1` are different names). Output is sorted naturally and `expandFolded` gives
 * back exactly the same set of names.
 */
export function foldHosts(names: Iterable<string>): string {
  const families = new Map<string, { prefix: string; suffix: string; digits: Set<string> }>();
  const plain = new Set<string>();
  // Every way each name could vary: one key per digit run (runs too long for exact integer
  // arithmetic are rare enough to stay as they are).
  const choices = new Map<string, { key: string; prefix: string; suffix: string; digits: string }[]>();
  const sizes = new Map<string, number>();
  for (const name of new Set(names)) {
    if (/[[\],]/.test(name)) throw new InputError(`cannot fold host name '${name}': it contains '[', ']' or ','`);
    const options = [...name.matchAll(/\d+/g)]
      .filter((m) => m[0].length <= 15)
      .map((m) => {
        const prefix = name.slice(0, m.index);
        const suffix = name.slice(m.index! + m[0].length);
        return { key: `${prefix}\0${suffix}`, prefix, suffix, digits: m[0] };
      });
    if (options.length === 0) {
      plain.add(name);
      continue;
    }
    choices.set(name, options);
    for (const o of options) sizes.set(o.key, (sizes.get(o.key) ?? 0) + 1);
  }
  for (const options of choices.values()) {
    const best = options.reduce((a, b) => (sizes.get(b.key)! >= sizes.get(a.key)! ? b : a));
    const family = families.get(best.key) ?? { prefix: best.prefix, suffix: best.suffix, digits: new Set<string>() };
    family.digits.add(best.digits);
    families.set(best.key, family);
  }
  const parts: Array<{ sortKey: string; text: string }> = [...plain].map((n) => ({ sortKey: n, text: n }));
  for (const { prefix, suffix, digits } of families.values()) {
    for (const [width, values] of byWidth(digits)) {
      const text =
        values.length === 1
          ? prefix + pad(values[0], width) + suffix
          : `${prefix}[${runs(values).map(([a, b]) => (a === b ? pad(a, width) : `${pad(a, width)}-${pad(b, width)}`)).join(',')}]${suffix}`;
      parts.push({ sortKey: prefix + pad(values[0], width) + suffix, text });
    }
  }
  return parts
    .sort((a, b) => naturalCompare(a.sortKey, b.sortKey))
    .map((p) => p.text)
    .join(',');
}

/** The names a folded expression stands for, in order, without duplicates. */
export function expandFolded(text: string): string[] {
  const out = new Set<string>();
  for (const piece of splitOutsideBrackets(text, ',').map((p) => p.trim())) {
    if (piece !== '') for (const name of expandRanges(piece)) out.add(name);
  }
  return [...out];
}

/**
 * Group digit strings by the padding width that reproduces them. `007` needs width 3; `10` is
 * reproduced by width 0, 1 or 2, so it joins the widest padded bucket it fits (`[08-10]`), else width 0.
 */
function byWidth(digits: Set<string>): Map<number, number[]> {
  const padded = new Set<number>();
  for (const d of digits) if (d.length > 1 && d.startsWith('0')) padded.add(d.length);
  const buckets = new Map<number, number[]>();
  for (const d of digits) {
    let width = 0;
    if (d.length > 1 && d.startsWith('0')) width = d.length;
    else for (const w of padded) if (w <= d.length && w > width) width = w;
    const list = buckets.get(width) ?? [];
    list.push(Number(d));
    buckets.set(width, list);
  }
  for (const list of buckets.values()) list.sort((a, b) => a - b);
  return new Map([...buckets].sort((a, b) => a[0] - b[0]));
}

function runs(sorted: number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const v of sorted) {
    const last = out[out.length - 1];
    if (last && v === last[1] + 1) last[1] = v;
    else out.push([v, v]);
  }
  return out;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/** Compare with digit runs as numbers, so `node9` sorts before `node10` and `10.0.0.9` before `10.0.0.10`. */
export function naturalCompare(a: string, b: string): number {
  const split = (s: string) => s.match(/\d+|\D+/g) ?? [];
  const pa = split(a);
  const pb = split(b);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    const na = /^\d/.test(pa[i]) && /^\d/.test(pb[i]);
    if (na && Number(pa[i]) !== Number(pb[i])) return Number(pa[i]) - Number(pb[i]);
    return pa[i] < pb[i] ? -1 : 1;
  }
  return pa.length - pb.length;
}
