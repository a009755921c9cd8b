// The words after `--` on the command line (a remote command), kept verbatim: main() sets them
// before commander parses the rest, commands read them.
let words: string[] = [];

export function setCommandWords(w: string[]): void {
  words = w;
}
export function commandWords(): string[] {
  return words;
}
