// Options of the commands that act on guests and can be rerun (run, push, play): which guests again,
// connection retries and progress lines for logs. Their values are checked in ./options.ts.
import type { Command } from 'commander';

/** `--rerun failed`: every command that records the guests it did not succeed on takes it. */
export const addRerunOption = (cmd: Command): Command =>
  cmd.option('--rerun <failed>', 'act on the guests the last run on this inventory did not succeed on (failed, unreachable, never started); same as -l @failed');

export function addRerunOptions(cmd: Command): Command {
  return addRerunOption(cmd)
    .option('--retries <n>', 'connect again up to N times to a guest that refused, was unreachable or timed out (never re-runs a command that ran)')
    .option('--retry-delay <s>', 'seconds between connection attempts (default 2)')
    .option('--progress', 'a plain progress line on stderr every 2 s and at each batch (without a terminal: every 10 s of a long run)');
}
