// Unified diffs for --dry-run: the format, hunks with context, and that a diff always rebuilds the new text.
import { describe, expect, it } from 'vitest';
import { splitLines, unifiedDiff } from '../../src/schedule/index.js';
import { prng, randInt } from './fleet.js';

/** Applies a unified diff to `before` (enough of patch(1) to check ours). */
function patch(before: string, diff: string): string[] {
  const a = splitLines(before);
  const out: string[] = [];
  let i = 0;
  const lines = diff.split('\n').slice(2, -1);
  for (let k = 0; k < lines.length; k++) {
    const m = /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@$/.exec(lines[k]!);
    if (!m) {
      const line = lines[k]!;
      if (line.startsWith('+')) out.push(line.slice(1));
      else {
        expect(a[i]).toBe(line.slice(1));
        if (line.startsWith(' ')) out.push(line.slice(1));
        i++;
      }
      continue;
    }
    const start = Number(m[1]) - (m[2] === '0' ? 0 : 1);
    while (i < start) out.push(a[i++]!);
  }
  while (i < a.length) out.push(a[i++]!);
  return out;
}

describe('unifiedDiff', () => {
  it('is empty for equal texts and shows an appended block with context', () => {
    expect(unifiedDiff('a\n', 'a\n', { from: 'x', to: 'x' })).toBe('');
    expect(unifiedDiff('1\n2\n3\n4\n5\n', '1\n2\n3\n4\n5\n# BEGIN\nline\n# END\n', { from: '/etc/crontab', to: '/etc/crontab' })).toBe(
      '--- /etc/crontab\n+++ /etc/crontab\n@@ -3,3 +3,6 @@\n 3\n 4\n 5\n+# BEGIN\n+line\n+# END\n',
    );
  });

  it('shows a new file against /dev/null and a replaced line as - then +', () => {
    expect(unifiedDiff('', 'x\n', { from: '/dev/null', to: '/etc/cron.d/fleet-n' })).toBe('--- /dev/null\n+++ /etc/cron.d/fleet-n\n@@ -0,0 +1 @@\n+x\n');
    expect(unifiedDiff('a\nb\nc\n', 'a\nB\nc\n', { from: 'f', to: 'f' })).toBe('--- f\n+++ f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n');
  });

  it('splits distant changes into hunks and notes a change of the final newline only', () => {
    const before = Array.from({ length: 30 }, (_, i) => `l${i}`).join('\n') + '\n';
    const after = before.replace('l2\n', 'L2\n').replace('l25\n', 'L25\n');
    expect(unifiedDiff(before, after, { from: 'f', to: 'f' }).match(/^@@/gm)).toHaveLength(2);
    expect(unifiedDiff('a', 'a\n', { from: 'f', to: 'f' })).toMatch(/only the final newline differs/);
  });

  it('always rebuilds the new text from the old one (random edits)', () => {
    const rand = prng(17);
    const pool = ['a', 'b', 'c', '# c', ''];
    for (let t = 0; t < 300; t++) {
      const lines = Array.from({ length: randInt(rand, 0, 25) }, () => pool[randInt(rand, 0, pool.length - 1)]!);
      const edited = [...lines];
      for (let e = randInt(rand, 1, 4); e > 0; e--) {
        const at = randInt(rand, 0, edited.length);
        if (rand() < 0.5 && edited.length > 0) edited.splice(Math.min(at, edited.length - 1), 1);
        else edited.splice(at, 0, `new${e}`);
      }
      const before = lines.length ? `${lines.join('\n')}\n` : '';
      const after = edited.length ? `${edited.join('\n')}\n` : '';
      const diff = unifiedDiff(before, after, { from: 'f', to: 'f', context: randInt(rand, 0, 3) });
      if (before === after) expect(diff).toBe('');
      else expect(patch(before, diff)).toEqual(edited);
    }
  });
});
