// "Did you mean ...?": the closest valid name to a misspelt one, by edit distance. Pure.

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The closest candidate when it is close enough to be a typo (case ignored), else undefined. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(w, c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.round(word.length * 0.6)) ? best : undefined;
}

/** ` (did you mean 'x'?)`; failing that the valid names when `list` (a short fixed set), else nothing. */
export function hint(word: string, candidates: readonly string[], list = true): string {
  const n = nearest(word, candidates);
  if (n) return ` (did you mean '${n}'?)`;
  return list && candidates.length > 0 ? ` (valid: ${candidates.join(', ')})` : '';
}
