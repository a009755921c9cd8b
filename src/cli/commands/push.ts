// `fleet push [sel] <local> <remote>`: one local file onto every selected guest, atomically, skipped
// where the guest's copy already has the same SHA-256.
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { InputError, UsageError } from '../../core/index.js';
import { backupSuffix, exitCodeOf, pushFileOn } from '../../executor/index.js';
import { setExitStatus } from '../exit.js';
import { fanOutWithProgress } from '../fan-out.js';
import { prepareOutDir } from '../out-dir.js';
import { printGathered, printJsonLines, writeOutDir } from '../render.js';
import { resolveSelection } from '../selection.js';
import { recordRun } from '../rerun.js';
import { retryOptions, type RunFlags } from './run.js';

export interface PushFlags extends RunFlags {
  mode?: string;
  owner?: string;
  backup?: boolean;
}

/** Arguments as commander hands them: `[selection] <local> <remote>` with the selection optional. */
export async function push(args: (string | undefined)[], f: PushFlags): Promise<void> {
  const words = args.filter((a): a is string => a !== undefined);
  if (words.length < 2) throw new UsageError('fleet push [selection] [options] <local> <remote>: give the local file and the remote path');
  const [selection, local, remoteArg] = words.length === 3 ? words : [undefined, ...words];
  // --mode is octal bits and --owner user[:group] (their schemas checked them).
  const mode = f.mode === undefined ? undefined : parseInt(f.mode, 8);
  const data = readLocal(local!);
  // `dir/` means "into that directory, under the local file's name", as cp and scp read it.
  const remote = remoteArg!.endsWith('/') ? `${remoteArg}${basename(local!)}` : remoteArg!;
  if (f.out) prepareOutDir(f.out);
  const { targets, session } = await resolveSelection(selection, f);
  const suffix = backupSuffix();
  const { results, summary, stopped } = await fanOutWithProgress(
    targets,
    (t) => pushFileOn(t, data, remote, { ...session, ...retryOptions(f), sudo: f.sudo, mode, owner: f.owner, backup: f.backup, backupSuffix: suffix }),
    f,
  );
  const changed = results.filter((r) => r.status === 'ok' && r.changed).length;
  const unchanged = results.filter((r) => r.status === 'ok' && !r.changed).length;
  if (f.out) writeOutDir(f.out, results);
  const undone = recordRun('push', f, targets, results, stopped);
  if (f.json) printJsonLines(results, { ...summary, changed, unchanged, ...undone.summary });
  else {
    printGathered(results, summary, 'push', {
      describeOk: (g) => (g.changed
        ? `changed: ${remote}${mode !== undefined ? ` (mode ${mode.toString(8).padStart(4, '0')})` : ''}${g.backup ? `\nprevious version kept as ${g.backup}` : ''}`
        : `unchanged: ${remote} already has this content (SHA-256)`),
      note: `${changed} changed, ${unchanged} unchanged`,
    });
    process.stdout.write(undone.lines);
  }
  setExitStatus(exitCodeOf(summary));
}

/** The local file, read once for every guest. */
function readLocal(path: string): Buffer {
  try {
    if (!statSync(path).isFile()) throw new Error('not a regular file');
    return readFileSync(path);
  } catch (err) {
    throw new InputError(`cannot push: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { file: path });
  }
}
