// `fleet run [sel] -- <command...>`: one shell command on every selected guest.
import { UsageError } from '../../core/index.js';
import { exitCodeOf, runCommandOn } from '../../executor/index.js';
import { setExitStatus } from '../exit.js';
import { fanOutWithProgress, type FanOutFlags } from '../fan-out.js';
import { printGathered, printJsonLines, writeOutDir } from '../render.js';
import { resolveSelection, type SelectionFlags } from '../selection.js';

export interface RunFlags extends SelectionFlags, FanOutFlags {
  sudo?: boolean;
  out?: string;
}

export async function run(selection: string | undefined, words: string[], f: RunFlags): Promise<void> {
  if (words.length === 0) throw new UsageError('no command: fleet run [selection] [options] -- <command...>');
  const command = words.join(' ');
  const { targets, session } = await resolveSelection(selection, f);
  const { results, summary } = await fanOutWithProgress(targets, (t) => runCommandOn(t, command, { ...session, sudo: f.sudo }), f);
  if (f.out) writeOutDir(f.out, results);
  if (f.json) printJsonLines(results, summary);
  else printGathered(results, summary, 'run');
  setExitStatus(exitCodeOf(summary));
}
