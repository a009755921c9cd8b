// `fleet run [sel] -- <command...>`: one shell command on every selected guest.
import { UsageError } from '../../core/index.js';
import { exitCodeOf, fanout, runCommandOn, summarize } from '../../executor/index.js';
import { setExitStatus } from '../exit.js';
import { interruptible } from '../interrupt.js';
import { printGathered, printJsonLines, progressDisplay, writeOutDir } from '../render.js';
import { resolveSelection, type SelectionFlags } from '../selection.js';

export interface RunFlags extends SelectionFlags {
  fanout: number;
  sudo?: boolean;
  batch?: string;
  maxFail?: string;
  json?: boolean;
  out?: string;
}

export async function run(selection: string | undefined, words: string[], f: RunFlags): Promise<void> {
  if (words.length === 0) throw new UsageError('no command: fleet run [selection] [options] -- <command...>');
  const command = words.join(' ');
  const { targets, session } = await resolveSelection(selection, f);
  const progress = f.json ? { onEvent: () => {}, finish: () => {} } : progressDisplay(targets.length);
  const t0 = Date.now();
  const results = await interruptible((signal) =>
    fanout(targets, (t) => runCommandOn(t, command, { ...session, sudo: f.sudo }), {
      fanout: f.fanout, batch: f.batch, maxFail: f.maxFail, onEvent: progress.onEvent, signal,
    }),
  );
  progress.finish();
  const summary = summarize(results, targets.length, Date.now() - t0);
  if (f.out) writeOutDir(f.out, results);
  if (f.json) printJsonLines(results, summary);
  else printGathered(results, summary, 'run');
  setExitStatus(exitCodeOf(summary));
}
