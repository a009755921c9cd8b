// Bracket ranges in host names (`10.1.0.[1-250]`, `web[01-20].example.org`, `[a-c]`) and their expansion.
import { InputError } from '../core/errors.js';

/** Where a pattern came from, for error messages. */
export interface Where {
  file?: string;
  line?: number;
}

/** A typo like `[1-9999999]` must fail loudly rather than exhaust memory. */
export const MAX_EXPANSION = 100_000;

const NUMERIC = /^(\d+)(?:([-:])(\d+)(?:[/:](\d+))?)?$/;
const ALPHA = /^([a-zA-Z])(?:[-:]([a-zA-Z])(?:[/:](\d+))?)?$/;

/** True when the text contains a bracket, i.e. needs expansion. */
export function hasRange(text: string): boolean {
  return text.includes('[') || text.includes(']');
}

/** `text` cut at every `sep` that stands outside brackets: a range's own commas (`[1-5,7]`) stay in its piece. */
export function splitOutsideBrackets(text: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = text[i];
    if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (i === text.length || (c === sep && depth === 0)) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  return out;
}

/**
 * Expand every bracketed range in `pattern`; several ranges give their cartesian product, leftmost
 * outermost. Items are `N`, `N-M` (or Ansible's `N:M`), an optional stride (`/S` or `:S`), comma
 * lists (`[1-5,7]`) and single letters (`[a-c]`). A zero-padded start (`01`) pads to its width.
 */
export function expandRanges(pattern: string, where: Where = {}): string[] {
  let out = [''];
  let i = 0;
  while (i < pattern.length) {
    const open = pattern.indexOf('[', i);
    const close = pattern.indexOf(']', i);
    if (close >= 0 && (open < 0 || close < open)) throw new InputError(`unbalanced ']' in '${pattern}'`, where);
    if (open < 0) {
      out = out.map((p) => p + pattern.slice(i));
      break;
    }
    if (close < 0) throw new InputError(`unterminated '[' in '${pattern}'`, where);
    const inner = pattern.indexOf('[', open + 1);
    if (inner >= 0 && inner < close) throw new InputError(`nested '[' in '${pattern}'`, where);
    const literal = pattern.slice(i, open);
    const choices = expandBody(pattern.slice(open + 1, close), pattern, where);
    if (out.length * choices.length > MAX_EXPANSION) {
      throw new InputError(`'${pattern}' expands to more than ${MAX_EXPANSION} names`, where);
    }
    const next: string[] = [];
    for (const prefix of out) for (const c of choices) next.push(prefix + literal + c);
    out = next;
    i = close + 1;
  }
  return out;
}

function expandBody(body: string, pattern: string, where: Where): string[] {
  if (body === '') throw new InputError(`empty range '[]' in '${pattern}'`, where);
  const out: string[] = [];
  for (const item of body.split(',')) {
    const values = expandItem(item, pattern, where, MAX_EXPANSION - out.length);
    for (const v of values) out.push(v);
  }
  return out;
}

function expandItem(item: string, pattern: string, where: Where, budget: number): string[] {
  const bad = (why: string) => new InputError(`bad range '[${item}]' in '${pattern}': ${why}`, where);
  const num = NUMERIC.exec(item);
  const alpha = num ? null : ALPHA.exec(item);
  if (!num && !alpha) throw bad(item === '' ? 'empty item' : 'expected N, N-M or a-z');
  const m = (num ?? alpha)!;
  const startText = m[1];
  const endText = num ? (m[3] ?? startText) : (m[2] ?? startText);
  const stepText = num ? m[4] : m[3];
  const step = stepText === undefined ? 1 : Number(stepText);
  if (step < 1) throw bad('stride must be at least 1');
  let start: number;
  let end: number;
  if (num) {
    start = Number(startText);
    end = Number(endText);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) throw bad('number too large');
  } else {
    const sameCase = (c: string) => (c >= 'a' && c <= 'z' ? 'lower' : 'upper');
    if (sameCase(startText) !== sameCase(endText)) throw bad('letters must be the same case');
    start = startText.charCodeAt(0);
    end = endText.charCodeAt(0);
  }
  if (start > end) throw bad('start is after end');
  const count = Math.floor((end - start) / step) + 1;
  if (count > budget) throw new InputError(`'${pattern}' expands to more than ${MAX_EXPANSION} names`, where);
  // Padding follows the start as written: `[01-10]` gives 01..10, `[1-10]` gives 1..10.
  const width = num && startText.length > 1 && startText.startsWith('0') ? startText.length : 0;
  const out: string[] = [];
  for (let v = start; v <= end; v += step) {
    out.push(num ? String(v).padStart(width, '0') : String.fromCharCode(v));
  }
  return out;
}
