// Python's shlex.split in POSIX mode: how Ansible splits INI host lines and ansible_ssh_common_args.

/** Text that shlex refuses; the message says why (an unterminated quote, a backslash at the very end). */
export class ShlexError extends Error {}

export interface ShlexOptions {
  /** Characters that start a comment running to the end of the line; none by default, as shlex.split. */
  comments?: string;
  /**
   * Whether a comment character inside a word ends it there (`a#b` is `a`), as shlex does; when false
   * it only starts a comment at the start of a word.
   */
  commentsInWords?: boolean;
}

const SPACE = ' \t\r\n';

/**
 * Words as `shlex.split(text, comments=...)` gives them: quotes group and are removed, a backslash
 * escapes any character outside quotes, only `"` and `\` inside double quotes (any other keeps its
 * backslash), nothing inside single quotes; `""` is an empty word.
 */
export function shlexSplit(text: string, opts: ShlexOptions = {}): string[] {
  const comments = opts.comments ?? '';
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (SPACE.includes(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (comments.includes(c) && (!inWord || opts.commentsInWords !== false)) {
      // To the end of the line: shlex reads on after a newline.
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl - 1;
    } else if (c === "'" || c === '"') {
      inWord = true;
      for (i++; ; i++) {
        if (i >= text.length) throw new ShlexError(`unterminated ${c} quote`);
        const q = text[i]!;
        if (q === c) break;
        if (c === '"' && q === '\\') {
          if (i + 1 >= text.length) throw new ShlexError(`unterminated ${c} quote`);
          const next = text[++i]!;
          word += next === '"' || next === '\\' ? next : `\\${next}`;
        } else word += q;
      }
    } else if (c === '\\') {
      if (i + 1 >= text.length) throw new ShlexError('nothing after the final backslash');
      word += text[++i];
      inWord = true;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}
