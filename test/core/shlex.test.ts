import { describe, expect, it } from 'vitest';
import { ShlexError, shlexSplit } from '../../src/core/shlex.js';

// Expected words are Python's shlex.split(text, comments=...) in POSIX mode.
describe('shlexSplit', () => {
  it('has no comments unless asked, as shlex.split', () => {
    expect(shlexSplit('a #b c#d')).toEqual(['a', '#b', 'c#d']);
    expect(shlexSplit('a #b c#d', { comments: '#' })).toEqual(['a']);
  });

  it('ends a comment at the newline and reads on', () => {
    expect(shlexSplit('a#b\nc "d e"', { comments: '#' })).toEqual(['a', 'c', 'd e']);
  });

  it('can start comments only at a word\'s start', () => {
    expect(shlexSplit('a#b ;c d', { comments: '#;', commentsInWords: false })).toEqual(['a#b']);
  });

  it('escapes only " and \\ inside double quotes, nothing inside single quotes', () => {
    expect(shlexSplit('"\\"\\\\\\$\\n" \'\\\'')).toEqual(['"\\\\$\\n', '\\']);
    expect(shlexSplit('"" a""b \'\'')).toEqual(['', 'ab', '']);
  });

  it('throws a ShlexError for an unterminated quote or a final backslash', () => {
    expect(() => shlexSplit("a 'b")).toThrow(ShlexError);
    expect(() => shlexSplit('a "b\\"')).toThrow(/unterminated " quote/);
    expect(() => shlexSplit('a b\\')).toThrow(/nothing after the final backslash/);
  });
});
