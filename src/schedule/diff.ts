// A unified diff of two small texts (crontabs), for `fleet cron apply --dry-run`.
//
// Longest common subsequence over lines after trimming the common head and tail, which is all a
// block edit leaves; crontabs are small, and past a size limit the middle is shown as replaced.
import { splitLines } from './crontab.js';

const MAX_CELLS = 4_000_000;

type Op = { kind: ' ' | '-' | '+'; text: string };

/** "--- a\n+++ b\n@@ ... @@\n..." or "" when the texts are equal. */
export function unifiedDiff(before: string, after: string, opts: { from: string; to: string; context?: number }): string {
  if (before === after) return '';
  const context = opts.context ?? 3;
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = diffLines(a, b);
  const out = [`--- ${opts.from}`, `+++ ${opts.to}`];
  // Group changes into hunks with `context` lines around them.
  let i = 0;
  while (i < ops.length) {
    if (ops[i]!.kind === ' ') {
      i++;
      continue;
    }
    const start = Math.max(0, i - context);
    let end = i;
    for (;;) {
      while (end < ops.length && ops[end]!.kind !== ' ') end++;
      let next = end;
      while (next < ops.length && ops[next]!.kind === ' ') next++;
      if (next < ops.length && next - end <= 2 * context) end = next;
      else break;
    }
    const stop = Math.min(ops.length, end + context);
    const [aStart, bStart] = positions(ops, start);
    const slice = ops.slice(start, stop);
    const aLen = slice.filter((o) => o.kind !== '+').length;
    const bLen = slice.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${range(aStart, aLen)} +${range(bStart, bLen)} @@`);
    for (const o of slice) out.push(`${o.kind}${o.text}`);
    i = stop;
  }
  if (out.length === 2) out.push('@@ only the final newline differs @@');
  return `${out.join('\n')}\n`;
}

function range(start: number, len: number): string {
  return len === 1 ? `${start}` : `${len === 0 ? start - 1 : start},${len}`;
}

/** 1-based line numbers in a and b where op `index` sits. */
function positions(ops: Op[], index: number): [number, number] {
  let a = 1;
  let b = 1;
  for (let k = 0; k < index; k++) {
    if (ops[k]!.kind !== '+') a++;
    if (ops[k]!.kind !== '-') b++;
  }
  return [a, b];
}

function diffLines(a: string[], b: string[]): Op[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const am = a.slice(head, a.length - tail);
  const bm = b.slice(head, b.length - tail);
  const ops: Op[] = a.slice(0, head).map((text) => ({ kind: ' ', text }));
  if ((am.length + 1) * (bm.length + 1) > MAX_CELLS) {
    ops.push(...am.map((text) => ({ kind: '-' as const, text })), ...bm.map((text) => ({ kind: '+' as const, text })));
  } else {
    // lcs[i][j] = LCS length of am[i..] and bm[j..]
    const w = bm.length + 1;
    const lcs = new Uint32Array((am.length + 1) * w);
    for (let i = am.length - 1; i >= 0; i--) {
      for (let j = bm.length - 1; j >= 0; j--) {
        lcs[i * w + j] = am[i] === bm[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < am.length || j < bm.length) {
      if (i < am.length && j < bm.length && am[i] === bm[j]) {
        ops.push({ kind: ' ', text: am[i]! });
        i++;
        j++;
      } else if (i < am.length && (j === bm.length || lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!)) {
        ops.push({ kind: '-', text: am[i]! });
        i++;
      } else {
        ops.push({ kind: '+', text: bm[j]! });
        j++;
      }
    }
  }
  ops.push(...a.slice(a.length - tail).map((text) => ({ kind: ' ' as const, text })));
  return ops;
}
