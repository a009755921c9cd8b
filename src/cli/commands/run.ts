// `fleet run [sel] -- <command...>`: one shell command on every selected guest.
import { UsageError } from '../../core/index.js';
import { exitCodeOf, runCommandOn } from '../../executor/index.js';
import { setExitStatus } from '../exit.js';
import { fanOutWithProgress, type FanOutFlags } from '../fan-out.js';
import { OutDir, prepareOutDir } from '../out-dir.js';
import { printGathered, printJsonLines } from '../render.js';
import { recordRun } from '../rerun.js';
import { resolveSelection, type SelectionFlags } from '../selection.js';

export interface RunFlags extends SelectionFlags, FanOutFlags {
  sudo?: boolean;
  out?: string;
  stdin?: boolean;
  /** Further connection attempts for guests that could not be reached, `retryDelay` seconds apart. */
  retries?: number;
  retryDelay?: number;
}

/** What `--stdin` may send to every guest: read into memory once. */
export const MAX_STDIN = 64 << 20;

/** All of standard input (a file or pipe, not a terminal), at most MAX_STDIN bytes. */
export async function readInput(input: NodeJS.ReadStream = process.stdin): Promise<Buffer> {
  if (input.isTTY) throw new UsageError('--stdin: standard input is a terminal; redirect a file or a pipe into fleet (fleet run --stdin -- sh -s < script.sh)');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    size += (chunk as Buffer).length;
    if (size > MAX_STDIN) throw new UsageError(`--stdin: more than ${MAX_STDIN >> 20} MiB on standard input; push the file with fleet push instead`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** --retries and --retry-delay as the session's connection retries. */
export const retryOptions = (f: Pick<RunFlags, 'retries' | 'retryDelay'>) =>
  ({ connectRetries: f.retries ?? 0, connectRetryDelayMs: (f.retryDelay ?? 2) * 1000 });

export async function run(selection: string | undefined, words: string[], f: RunFlags): Promise<void> {
  if (words.length === 0) throw new UsageError('no command: fleet run [selection] [options] -- <command...>');
  const command = words.join(' ');
  // A directory that cannot take the output is known before any guest runs anything.
  if (f.out) prepareOutDir(f.out);
  const out = f.out ? new OutDir(f.out) : undefined;
  const stdin = f.stdin ? await readInput() : undefined;
  const { targets, session } = await resolveSelection(selection, f);
  const { results, summary, stopped } = await fanOutWithProgress(targets, async (t) => {
    const sink = out?.guest(t.name);
    try {
      return await runCommandOn(t, command, { ...session, ...retryOptions(f), sudo: f.sudo, stdin, sink });
    } finally {
      sink?.close();
    }
  }, f);
  const undone = recordRun('run', f, targets, results, stopped);
  if (f.json) printJsonLines(results, { ...summary, ...undone.summary });
  else {
    printGathered(results, summary, 'run');
    process.stdout.write(undone.lines);
  }
  setExitStatus(exitCodeOf(summary));
  const lost = out?.errors() ?? [];
  for (const e of lost.slice(0, 5)) process.stderr.write(`fleet: --out: cannot write ${e}\n`);
  if (lost.length > 5) process.stderr.write(`fleet: --out: ${lost.length - 5} more files could not be written\n`);
  // The output the user asked to keep is not all there: that is a failure, whatever the guests did.
  if (lost.length > 0) setExitStatus(1);
}
